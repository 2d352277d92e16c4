package procmem

import (
	"os"
	"testing"
	"time"
)

func TestParseCPU(t *testing.T) {
	// A command holding ") " must not shift the fields: utime 250 and stime 50 ticks are 3 s.
	stat := []byte("4242 (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 10 0\n")
	got, err := parseCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if got != 3*time.Second {
		t.Fatalf("parseCPU = %s, want 3s", got)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 5 0"} {
		if _, err := parseCPU([]byte(bad)); err == nil {
			t.Errorf("parseCPU(%q) gave no error", bad)
		}
	}
}

func TestCPUOfThisProcessGrows(t *testing.T) {
	before, err := CPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the process has used at least two more ticks: the figure must follow the work.
	deadline := time.Now().Add(60 * time.Second)
	for x := 0; ; x++ {
		now, err := CPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now >= before+20*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU stayed at %s (from %s) after a minute of spinning", now, before)
		}
		_ = x * x
	}
	if _, err := CPU(-1); err == nil {
		t.Fatal("CPU(-1) gave no error")
	}
}
