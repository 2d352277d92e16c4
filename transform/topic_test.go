package transform

import "testing"

func TestDefaultTopic(t *testing.T) {
	for _, c := range []struct{ ns, name, want string }{
		{"public", "orders", "p.public.orders"},
		{"my schema", "Ümlaut Tab", "p.my_schema._mlaut_Tab"},
		{"public", "o'brien", "p.public.o_brien"},
		{"public", "my.table-1", "p.public.my.table-1"},
		{"public", `"q"`, "p.public._q_"},
		{"public", "日本", "p.public.__"},
		{"public", "😀", "p.public.__"}, // two UTF-16 units, as Debezium counts them
		{"public", "a😀é", "p.public.a___"},
	} {
		if got := DefaultTopic("p", c.ns, c.name); got != c.want {
			t.Errorf("DefaultTopic(p, %q, %q) = %q, want %q", c.ns, c.name, got, c.want)
		}
	}
}

func TestTopicCollision(t *testing.T) {
	if _, _, ok := TopicCollision([][2]string{{"s", "a b"}, {"s", "a-b"}, {"s", "a b"}}); ok {
		t.Error("no collision expected")
	}
	a, b, ok := TopicCollision([][2]string{{"s", "x"}, {"s", "a b"}, {"s", "a_b"}})
	if !ok || a != [2]string{"s", "a b"} || b != [2]string{"s", "a_b"} {
		t.Errorf("TopicCollision = %q, %q, %v", a, b, ok)
	}
	if _, _, ok := TopicCollision([][2]string{{"a.b", "c"}, {"a", "b.c"}}); !ok {
		t.Error("a.b.c: collision expected")
	}
}
