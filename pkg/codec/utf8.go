package codec

import "unicode/utf8"

// UTF8Validator checks a text message for valid UTF-8 while it arrives in
// pieces of any size, so that a connection sending invalid text is failed
// (1007) at the first bad byte instead of after the whole message: a sequence
// is rejected as soon as its prefix cannot start a valid rune, even when the
// rune is split across frames or reads. The zero value is ready to use.
type UTF8Validator struct {
	need   uint8 // continuation bytes still expected for the pending rune
	lo, hi byte  // bounds for the next continuation byte (Unicode table 3-7)
}

// Write validates the next piece of the message and reports whether
// everything seen so far can still be the prefix of valid UTF-8.
// After Write returns false the validator must be Reset before reuse.
func (v *UTF8Validator) Write(p []byte) bool {
	i := 0
	for v.need > 0 { // finish the rune the previous piece started
		if i == len(p) {
			return true
		}
		if c := p[i]; c < v.lo || c > v.hi {
			return false
		}
		v.lo, v.hi = 0x80, 0xBF
		v.need--
		i++
	}
	tail := incompleteTail(p, i)
	// The standard library validator is fast on ASCII and checks table 3-7;
	// only the last, incomplete rune needs to be carried over.
	if !utf8.Valid(p[i:tail]) {
		return false
	}
	return v.carry(p[tail:])
}

// Complete reports whether the bytes written end on a rune boundary. A text
// message is valid when every Write returned true and Complete is true.
func (v *UTF8Validator) Complete() bool { return v.need == 0 }

// Reset prepares v for a new message.
func (v *UTF8Validator) Reset() { *v = UTF8Validator{} }

// carry checks the lead and continuation bytes of a rune that is cut off at
// the end of a piece and remembers what the next piece must continue with.
func (v *UTF8Validator) carry(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	need, lo, hi, ok := leadByte(p[0])
	if !ok {
		return false
	}
	for _, c := range p[1:] {
		if c < lo || c > hi {
			return false
		}
		lo, hi = 0x80, 0xBF
		need--
	}
	v.need, v.lo, v.hi = need, lo, hi
	return true
}

// incompleteTail returns the index where a rune that p cuts short begins, or
// len(p) when p (from start on) ends on a rune boundary.
func incompleteTail(p []byte, start int) int {
	n := len(p)
	for j := n - 1; j >= start && j >= n-3; j-- {
		c := p[j]
		if c < 0x80 {
			return n
		}
		if c >= 0xC0 {
			if need, _, _, ok := leadByte(c); ok && n-j <= int(need) {
				return j
			}
			return n
		}
	}
	return n
}

// leadByte returns how many continuation bytes follow lead byte c and the
// allowed range of the first one, per table 3-7 of the Unicode standard:
// it excludes overlong forms, surrogates and code points above U+10FFFF.
func leadByte(c byte) (need uint8, lo, hi byte, ok bool) {
	switch {
	case c >= 0xC2 && c <= 0xDF:
		return 1, 0x80, 0xBF, true
	case c == 0xE0:
		return 2, 0xA0, 0xBF, true
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		return 2, 0x80, 0xBF, true
	case c == 0xED:
		return 2, 0x80, 0x9F, true
	case c == 0xF0:
		return 3, 0x90, 0xBF, true
	case c >= 0xF1 && c <= 0xF3:
		return 3, 0x80, 0xBF, true
	case c == 0xF4:
		return 3, 0x80, 0x8F, true
	}
	return 0, 0, 0, false
}

// ValidUTF8 reports whether p is complete, valid UTF-8.
func ValidUTF8(p []byte) bool { return utf8.Valid(p) }
