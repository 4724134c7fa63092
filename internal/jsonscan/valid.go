package jsonscan

// MaxDepth is the deepest nesting Valid accepts, encoding/json's limit: a body nested deeper is
// refused there too.
const MaxDepth = 10000

// Valid reports whether b is exactly one JSON value with optional white space around it. It
// accepts and refuses what encoding/json.Valid does (FuzzValid holds it to that), in one pass
// without a state-function call per byte, and it allocates only past 256 levels of nesting.
func Valid(b []byte) bool {
	var v validator
	return v.run(b)
}

// ValidArray is Valid for a b whose value is an array, with the number of its elements, counted
// in the same pass.
func ValidArray(b []byte) (n int, ok bool) {
	var v validator
	if i := SkipSpace(b, 0); i == len(b) || b[i] != '[' || !v.run(b) {
		return 0, false
	}
	return v.elements, true
}

// validator keeps the open containers as a bit stack, 1 for an object and 0 for an array: the
// first 256 levels in small, deeper ones in more.
type validator struct {
	small [4]uint64
	more  []uint64
	depth int
	// elements counts the values directly inside a top-level array.
	elements int
}

func (v *validator) word(d int) *uint64 {
	if w := d / 64; w < len(v.small) {
		return &v.small[w]
	}
	w := d/64 - len(v.small)
	for w >= len(v.more) {
		v.more = append(v.more, 0)
	}
	return &v.more[w]
}

func (v *validator) push(object bool) bool {
	if v.depth >= MaxDepth {
		return false
	}
	w, bit := v.word(v.depth), uint64(1)<<(v.depth%64)
	if object {
		*w |= bit
	} else {
		*w &^= bit
	}
	v.depth++
	return true
}

func (v *validator) inObject() bool {
	d := v.depth - 1
	return *v.word(d)&(uint64(1)<<(d%64)) != 0
}

// run walks values: each turn of the outer loop reads one value at i, then closes what it ends
// and moves past the comma (and, in an object, the next key) to the next value.
func (v *validator) run(b []byte) bool {
	i := SkipSpace(b, 0)
	for {
		if i >= len(b) {
			return false
		}
		if v.depth == 1 && !v.inObject() {
			v.elements++
		}
		switch c := b[i]; c {
		case '{':
			if !v.push(true) {
				return false
			}
			if i = SkipSpace(b, i+1); i < len(b) && b[i] == '}' {
				v.depth--
				i++
				break
			}
			var ok bool
			if i, ok = member(b, i); !ok {
				return false
			}
			continue
		case '[':
			if !v.push(false) {
				return false
			}
			if i = SkipSpace(b, i+1); i < len(b) && b[i] == ']' {
				v.depth--
				i++
				break
			}
			continue
		case '"':
			var ok bool
			if i, ok = validString(b, i); !ok {
				return false
			}
		case 't':
			if !literal(b, i, "true") {
				return false
			}
			i += 4
		case 'f':
			if !literal(b, i, "false") {
				return false
			}
			i += 5
		case 'n':
			if !literal(b, i, "null") {
				return false
			}
			i += 4
		default:
			var ok bool
			if i, ok = validNumber(b, i); !ok {
				return false
			}
		}
		// A value ended at i: close containers until a comma leads to the next value.
		for {
			i = SkipSpace(b, i)
			if v.depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			object := v.inObject()
			if c := b[i]; c == ',' {
				i = SkipSpace(b, i+1)
				if object {
					var ok bool
					if i, ok = member(b, i); !ok {
						return false
					}
				}
				break
			} else if object && c == '}' || !object && c == ']' {
				v.depth--
				i++
				continue
			}
			return false
		}
	}
}

// member reads an object key and its colon at b[i], returning where the member's value starts.
func member(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := validString(b, i)
	if !ok {
		return i, false
	}
	if i = SkipSpace(b, i); i >= len(b) || b[i] != ':' {
		return i, false
	}
	return SkipSpace(b, i+1), true
}

func literal(b []byte, i int, word string) bool {
	return len(b)-i >= len(word) && string(b[i:i+len(word)]) == word
}

// validString returns the index past the string at b[i] == '"'. As in encoding/json, control
// bytes are refused, escapes must be one of JSON's, and other bytes are taken as they are.
func validString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
			case 'u':
				if len(b)-i <= 4 {
					return i, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validNumber returns the index past the number at b[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
