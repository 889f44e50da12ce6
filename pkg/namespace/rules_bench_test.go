package namespace

import (
	"fmt"
	"testing"
)

func benchRules(b testing.TB) *Rules {
	nss := make([]Namespace, 50)
	for i := range nss {
		nss[i] = Namespace{Name: fmt.Sprintf("ns%02d", i)}
	}
	nss[49].ChannelRegex = `^[a-z0-9]+$`
	return mustNew(b, Config{Namespaces: nss})
}

func BenchmarkResolve(b *testing.B) {
	r := benchRules(b)
	for _, ch := range []string{"news", "$ns25:room-1234#42,43", "ns49:room1234"} {
		b.Run(ch, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.Resolve(ch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUserAllowed(b *testing.B) {
	r := benchRules(b)
	b.ReportAllocs()
	for b.Loop() {
		if !r.UserAllowed("dialog#1001,1002,1003", "1003") {
			b.Fatal("refused")
		}
	}
}

// TestResolveAllocs pins the zero-allocation contract of the hot path (a
// count, not a timing).
func TestResolveAllocs(t *testing.T) {
	r := benchRules(t)
	for _, ch := range []string{"news", "$ns25:room#42,43", "ns49:room1234", "unknown:x", "новости"} {
		if n := testing.AllocsPerRun(100, func() {
			_, _, _ = r.Resolve(ch)
			_ = r.UserAllowed(ch, "43")
			_ = r.IsPrivate(ch)
		}); n != 0 {
			t.Errorf("%q: %v allocs", ch, n)
		}
	}
}
