package broker_test

import (
	"strconv"
	"testing"

	"github.com/xh-control/gateway/pkg/broker"
)

// historyModel is the plain statement of the history rules the engine
// must match: every publication ever made, the newest size kept.
type historyModel struct {
	top  uint64
	kept []uint64 // offsets, oldest first
}

func (h *historyModel) publish(size int) {
	h.top++
	h.kept = append(h.kept, h.top)
	if len(h.kept) > size {
		h.kept = h.kept[len(h.kept)-size:]
	}
}

func (h *historyModel) get(since *uint64, limit int, reverse bool) []uint64 {
	var out []uint64
	if !reverse {
		for _, o := range h.kept {
			if since == nil || o > *since {
				out = append(out, o)
			}
		}
	} else {
		for i := len(h.kept) - 1; i >= 0; i-- {
			if o := h.kept[i]; since == nil || o < *since {
				out = append(out, o)
			}
		}
	}
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// FuzzMemoryHistory runs a sequence of publishes (with changing sizes),
// reads and removals decoded from the input against the engine and the
// model: every read returns exactly the model's offsets, data and
// position.
func FuzzMemoryHistory(f *testing.F) {
	f.Add([]byte{0x01, 0x81, 0x02, 0x83, 0xf0, 0x90, 0x45, 0x03})
	// 150 publishes keeping 5, each followed by a read from just below,
	// at or above the top: trimming and compaction of the kept window.
	var long []byte
	for i := 0; i < 150; i++ {
		long = append(long, 0x10, 4, 0xa0|byte(i%32), 0x80|byte((i+i%3)%128))
	}
	f.Add(long)
	f.Fuzz(func(t *testing.T, ops []byte) {
		m := newMemory(t, broker.MemoryOptions{})
		var h historyModel
		var epoch string
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i], ops[i+1]
			switch {
			case op < 0xa0: // publish, size 1..64
				size := int(arg%64) + 1
				sp, err := m.Publish(ctx, "a", []byte(strconv.FormatUint(h.top+1, 10)), keep(size))
				h.publish(size)
				if err != nil || sp.Offset != h.top || (epoch != "" && sp.Epoch != epoch) {
					t.Fatalf("publish %d: %+v %v", h.top, sp, err)
				}
				epoch = sp.Epoch
			case op < 0xf8: // read
				opts := broker.HistoryOptions{Limit: int(op%16) - 1, Reverse: op&0x10 != 0}
				var since *uint64
				if arg&0x80 != 0 {
					s := uint64(arg & 0x7f)
					since = &s
					opts.Since = &broker.StreamPosition{Offset: s}
				}
				pubs, sp, err := m.History(ctx, "a", opts)
				if err != nil || sp.Offset != h.top || (epoch != "" && sp.Epoch != epoch) {
					t.Fatalf("history position %+v %v, want offset %d epoch %q", sp, err, h.top, epoch)
				}
				epoch = sp.Epoch
				want := h.get(since, opts.Limit, opts.Reverse)
				if len(pubs) != len(want) {
					t.Fatalf("history limit %d reverse %v since %s: offsets %v, want %v", opts.Limit, opts.Reverse, sinceStr(since), offsetsOf(pubs), want)
				}
				for j, p := range pubs {
					if p.Offset != want[j] || string(p.Data) != strconv.FormatUint(want[j], 10) {
						t.Fatalf("history limit %d reverse %v since %s: [%d] offset %d data %q, want %d",
							opts.Limit, opts.Reverse, sinceStr(since), j, p.Offset, p.Data, want[j])
					}
				}
			default: // remove history
				m.RemoveHistory(ctx, "a")
				h.kept = nil
			}
		}
		var bytes int64
		for _, o := range h.kept {
			bytes += int64(len(strconv.FormatUint(o, 10)))
		}
		if st := m.Stats(); st.Publications != len(h.kept) || st.Bytes != bytes {
			t.Fatalf("Stats %+v, model keeps %d publications of %d bytes", st, len(h.kept), bytes)
		}
	})
}

func sinceStr(s *uint64) string {
	if s == nil {
		return "nil"
	}
	return strconv.FormatUint(*s, 10)
}

func offsetsOf(pubs []*broker.Publication) []uint64 {
	o := make([]uint64, len(pubs))
	for i, p := range pubs {
		o[i] = p.Offset
	}
	return o
}
