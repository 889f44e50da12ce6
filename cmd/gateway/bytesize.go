package main

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes written as a number with an optional unit:
// 1048576, 1MiB, 512KiB, 1GB. KiB/MiB/GiB are powers of 1024, KB/MB/GB of
// 1000.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

// UnmarshalText parses a size; YAML, environment variables and flags all go
// through it.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	factor := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return fmt.Errorf("size %q: want a number of bytes such as 65536, 64KiB or 1MiB", string(text))
	}
	*b = ByteSize(n * factor)
	return nil
}

// String renders the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if int64(b) >= u.factor && int64(b)%u.factor == 0 {
			return strconv.FormatInt(int64(b)/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText renders the size for -print-config.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }
