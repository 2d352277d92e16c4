package decoder

import "fmt"

// arrayPlan decodes a one-dimensional PostgreSQL array in text form ({a,"b c",NULL}, optionally
// preceded by explicit bounds [0:2]=) with elem for each element. Quoted elements are unescaped
// in place; each element's text stays within its own bytes, so element plans may rewrite it.
func arrayPlan(elem pgPlan) pgPlan {
	return func(text []byte, v *Value) error {
		s := text
		if len(s) > 0 && s[0] == '[' {
			eq := -1
			for i, c := range s {
				if c == '=' {
					eq = i
					break
				}
			}
			if eq < 0 {
				return badValue("array bounds", text)
			}
			dims := 0
			for _, c := range s[:eq] {
				if c == '[' {
					dims++
				}
			}
			if dims > 1 {
				return ErrPGMultiDimArray
			}
			s = s[eq+1:]
		}
		if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
			return badValue("array", text)
		}
		body := s[1 : len(s)-1]
		elems := make([]Value, 0, 4)
		if len(body) == 0 {
			v.Elems = elems
			return nil
		}
		i := 0
		for {
			if i < len(body) && body[i] == '{' {
				return ErrPGMultiDimArray
			}
			start := i
			var item []byte
			isNull := false
			if i < len(body) && body[i] == '"' {
				w := start // unescape in place: w never passes i
				i++
				closed := false
				for i < len(body) {
					c := body[i]
					if c == '\\' {
						if i+1 >= len(body) {
							return badValue("array (escape at end)", text)
						}
						body[w] = body[i+1]
						w++
						i += 2
						continue
					}
					if c == '"' {
						closed = true
						i++
						break
					}
					body[w] = c
					w++
					i++
				}
				if !closed {
					return badValue("array (unterminated quote)", text)
				}
				item = body[start:w:w]
			} else {
				w := start
				for i < len(body) && body[i] != ',' {
					c := body[i]
					if c == '"' || c == '{' || c == '}' {
						return badValue("array", text)
					}
					if c == '\\' && i+1 < len(body) {
						i++
						c = body[i]
					}
					body[w] = c
					w++
					i++
				}
				item = body[start:w:w]
				isNull = w-start == 4 && (string(item) == "NULL" || string(item) == "null")
			}
			var ev Value
			if !isNull {
				if err := elem(item, &ev); err != nil {
					return fmt.Errorf("array element %d: %w", len(elems)+1, err)
				}
				ev.State = ValueSet
			}
			elems = append(elems, ev)
			if i == len(body) {
				break
			}
			if body[i] != ',' {
				return badValue("array (expected a comma)", text)
			}
			i++
		}
		v.Elems = elems
		return nil
	}
}
