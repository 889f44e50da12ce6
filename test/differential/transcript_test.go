package differential

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// entry is one observed step: an HTTP reply, a batch of protocol replies
// and pushes, or a close.
type entry struct {
	Step        string `json:"step"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Body        any    `json:"body,omitempty"`
	Close       string `json:"close,omitempty"` // "code reason"
}

// transcript collects entries, replacing what must differ between servers
// by stable aliases: each distinct client ID becomes <client1>, <client2>,
// ... and each epoch <epoch1>, ... in order of first appearance, so that
// equal IDs stay equal and different ones different.
type transcript struct {
	in      *strings.Replacer // undoes server.out in what comes back; nil: nothing to undo
	entries []entry
	alias   map[string]string
	counts  map[string]int
}

func newTranscript() *transcript {
	return &transcript{alias: map[string]string{}, counts: map[string]int{}}
}

func (tr *transcript) name(kind, v string) string {
	if v == "" {
		return ""
	}
	if a, ok := tr.alias[v]; ok {
		return a
	}
	tr.counts[kind]++
	a := fmt.Sprintf("<%s%d>", kind, tr.counts[kind])
	tr.alias[v] = a
	return a
}

// learnClient registers a client ID so that it is aliased wherever it
// appears (as a map key or a value).
func (tr *transcript) learnClient(id string) string { return tr.name("client", id) }

func (tr *transcript) add(e entry) { tr.entries = append(tr.entries, e) }

// ignored are fields of info's nodes whose values differ by nature: node
// identity, software version, uptime, Centrifugo's metrics and process
// stats, and the counts, which Centrifugo refreshes every few seconds (its
// info says 0 clients right after a client connected).
var ignored = map[string]bool{"uid": true, "name": true, "version": true,
	"num_clients": true, "num_users": true, "num_channels": true, "num_subs": true}

// dropped are fields of info's nodes left out altogether: uptime, which
// Centrifugo omits while it is 0 (its first second), and Centrifugo's
// metrics and process stats, which the gateway does not report (it has
// /metrics on the admin listener for that).
var dropped = map[string]bool{"uptime": true, "metrics": true, "process": true}

// ignoredAnywhere are fields that differ by nature wherever they are: the
// server version in connect replies, and ttl, which counts seconds from
// the moment of the reply.
var ignoredAnywhere = map[string]bool{"version": true, "ttl": true}

// normalize rewrites a decoded JSON value. Under "nodes", ignored fields are
// replaced by "<ignored>" (their presence still compared); "epoch" values
// and "client" values are aliased; known client IDs are aliased as map keys.
func (tr *transcript) normalize(v any, key string, inNodes bool) any {
	switch x := v.(type) {
	case map[string]any:
		// Values first, in key order, so that aliases are numbered the
		// same on both servers and a client ID met as a value ("client")
		// is known when it is met as a key (presence); keys last. Client
		// IDs that appear only as keys must be learned before (connect).
		vals := make(map[string]any, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val, nk := x[k], k
			out := vals
			switch {
			case k == "publications" && val == nil && tr.in != nil:
				// Protobuf has no empty list apart from no list; the JSON
				// the Protobuf reply is turned into says null.
				out[nk] = []any{}
			case inNodes && dropped[k]:
			case inNodes && ignored[k] || ignoredAnywhere[k]:
				out[nk] = "<ignored>"
			case k == "epoch":
				if s, ok := val.(string); ok {
					out[nk] = tr.name("epoch", s)
					continue
				}
				out[nk] = val
			case k == "client":
				if s, ok := val.(string); ok {
					out[nk] = tr.name("client", s)
					continue
				}
				out[nk] = val
			default:
				out[nk] = tr.normalize(val, k, inNodes || k == "nodes")
			}
		}
		out := make(map[string]any, len(vals))
		for k, v := range vals {
			nk := k
			if a, ok := tr.alias[k]; ok {
				nk = a
			} else if tr.in != nil {
				nk = tr.in.Replace(k)
			}
			out[nk] = v
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = tr.normalize(val, key, inNodes)
		}
		return out
	case string:
		if a, ok := tr.alias[x]; ok {
			return a
		}
		if tr.in != nil {
			return tr.in.Replace(x)
		}
		return x
	}
	return v
}

// decode parses data as JSON (several newline-separated values become a
// list), or keeps it as a string when it is not JSON.
func (tr *transcript) decode(data []byte) any {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var vals []any
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			return string(data)
		}
		vals = append(vals, tr.normalize(v, "", false))
	}
	if len(vals) == 1 {
		return vals[0]
	}
	return vals
}

// compare reports every step where got differs from want, except steps in
// known (step -> why the servers differ), which are logged; a known step
// that no longer differs is an error too, so that the list stays true.
func compare(t *testing.T, want, got []entry, wantName, gotName string, known map[string]string) {
	t.Helper()
	errs, notes := diff(want, got, wantName, gotName, known)
	for _, n := range notes {
		t.Log(n)
	}
	for _, e := range errs {
		t.Error(e)
	}
}

// diff compares two transcripts step by step (steps are matched by name,
// which must be unique in each).
func diff(want, got []entry, wantName, gotName string, known map[string]string) (errs, notes []string) {
	index := func(es []entry, name string) map[string]entry {
		m := map[string]entry{}
		for _, e := range es {
			if _, dup := m[e.Step]; dup {
				errs = append(errs, fmt.Sprintf("step %q: twice in %s's transcript", e.Step, name))
			}
			m[e.Step] = e
		}
		return m
	}
	wm, gm := index(want, wantName), index(got, gotName)
	for _, e := range got {
		if _, ok := wm[e.Step]; !ok {
			errs = append(errs, fmt.Sprintf("step %q: only %s has it", e.Step, gotName))
		}
	}
	for _, w := range want {
		g, ok := gm[w.Step]
		if !ok {
			errs = append(errs, fmt.Sprintf("step %q: %s did not get there", w.Step, gotName))
			continue
		}
		why, listed := known[w.Step]
		if reflect.DeepEqual(jsonRound(w), jsonRound(g)) {
			if listed {
				errs = append(errs, fmt.Sprintf("step %q is listed as differing (%s) but no longer does: remove it from the list", w.Step, why))
			}
			continue
		}
		if listed {
			notes = append(notes, fmt.Sprintf("step %q differs, as listed: %s", w.Step, why))
			continue
		}
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(g)
		errs = append(errs, fmt.Sprintf("step %q differs:\n%s: %s\n%s: %s", w.Step, wantName, wj, gotName, gj))
	}
	return errs, notes
}

// jsonRound makes values comparable whatever their Go types.
func jsonRound(e entry) any {
	b, _ := json.Marshal(e)
	var v any
	json.Unmarshal(b, &v)
	return v
}

// checkGolden compares Centrifugo's transcript with testdata/<name>.golden.json
// (or rewrites it with -update).
func checkGolden(t *testing.T, name string, entries []entry) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden.json")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(entries)
	data := buf.Bytes()
	if *update {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	var want []entry
	if err := json.Unmarshal(old, &want); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	compare(t, want, entries, "golden", "centrifugo", nil)
}

// run plays scenario against every server and compares: Centrifugo with
// its golden transcript, the gateway with Centrifugo.
func run(t *testing.T, name string, known map[string]string, scenario func(t *testing.T, s *server, tr *transcript)) {
	runEncoding(t, name, false, known, scenario)
}

// runProtobuf plays a JSON scenario over the Protobuf encoding: it must
// produce the very transcript the JSON run does (the same golden file).
func runProtobuf(t *testing.T, name string, known map[string]string, scenario func(t *testing.T, s *server, tr *transcript)) {
	runEncoding(t, name, true, known, scenario)
}

func runEncoding(t *testing.T, name string, protobuf bool, known map[string]string, scenario func(t *testing.T, s *server, tr *transcript)) {
	results := map[string][]entry{}
	for _, srv := range servers(t) {
		s := *srv
		s.protobuf = protobuf
		tr := newTranscript()
		if protobuf {
			tr.in = pbIn
		}
		t.Run(s.name, func(t *testing.T) {
			defer func() {
				if t.Failed() {
					for _, e := range tr.entries[max(0, len(tr.entries)-5):] {
						b, _ := json.Marshal(e)
						t.Logf("last steps: %s", b)
					}
				}
			}()
			scenario(t, &s, tr)
		})
		results[s.name] = tr.entries
	}
	if t.Failed() {
		return
	}
	if !protobuf || !*update {
		checkGolden(t, name, results["centrifugo"])
	}
	if g, ok := results["gateway"]; ok {
		compare(t, results["centrifugo"], g, "centrifugo", "gateway", known)
	}
}
