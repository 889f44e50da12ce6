package differential

import (
	"reflect"
	"strings"
	"testing"
)

// The harness itself: aliases keep equal IDs equal and different ones
// different, and diff finds every kind of difference.
func TestNormalize(t *testing.T) {
	tr := newTranscript()
	tr.learnClient("c-aaa")
	got := tr.decode([]byte(`{"presence":{"c-aaa":{"client":"c-aaa","user":"u"},"c-bbb":{"client":"c-bbb"}},"epoch":"E1","x":{"epoch":"E2"},"y":{"epoch":"E1"},"version":"6.9","ttl":59}`))
	want := map[string]any{
		"presence": map[string]any{"<client1>": map[string]any{"client": "<client1>", "user": "u"}, "<client2>": map[string]any{"client": "<client2>"}},
		"epoch":    "<epoch1>", "x": map[string]any{"epoch": "<epoch2>"}, "y": map[string]any{"epoch": "<epoch1>"},
		"version": "<ignored>", "ttl": "<ignored>",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("normalized %v\nwant %v", got, want)
	}
	got = tr.decode([]byte(`{"nodes":[{"uid":"x","name":"n","num_clients":3,"uptime":5,"metrics":{}}]}`))
	want = map[string]any{"nodes": []any{map[string]any{"uid": "<ignored>", "name": "<ignored>", "num_clients": "<ignored>"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("normalized nodes %v\nwant %v", got, want)
	}
	if got := tr.decode([]byte("Bad Request\n")); got != "Bad Request\n" {
		t.Fatalf("text body %q", got)
	}
	if got := tr.decode([]byte("{\"a\":1}\n{\"b\":2}")); len(got.([]any)) != 2 {
		t.Fatalf("two lines: %v", got)
	}
}

func TestDiff(t *testing.T) {
	a := []entry{{Step: "s1", Status: 200, Body: map[string]any{"x": 1}}, {Step: "s2", Close: "3501 bad request"}}
	same := []entry{{Step: "s1", Status: 200, Body: map[string]any{"x": 1.0}}, {Step: "s2", Close: "3501 bad request"}}
	if errs, _ := diff(a, same, "w", "g", nil); len(errs) != 0 {
		t.Fatalf("equal transcripts: %q", errs)
	}
	for name, c := range map[string]struct {
		got  []entry
		want string
	}{
		"value":   {[]entry{{Step: "s1", Status: 200, Body: map[string]any{"x": 2}}, a[1]}, `step "s1" differs`},
		"status":  {[]entry{{Step: "s1", Status: 400, Body: map[string]any{"x": 1}}, a[1]}, `step "s1" differs`},
		"close":   {[]entry{a[0], {Step: "s2", Close: "3500 invalid token"}}, `step "s2" differs`},
		"missing": {[]entry{a[0]}, `step "s2": g did not get there`},
		"extra":   {append(append([]entry{}, a...), entry{Step: "s3"}), `step "s3": only g has it`},
		"twice":   {append(append([]entry{}, a...), a[0]), `step "s1": twice in g's transcript`},
	} {
		errs, _ := diff(a, c.got, "w", "g", nil)
		if len(errs) != 1 || !strings.HasPrefix(errs[0], c.want) {
			t.Errorf("%s: errors %q, want one starting %q", name, errs, c.want)
		}
	}
	// Listed steps are notes while they differ and errors once they do not.
	errs, notes := diff(a, []entry{{Step: "s1", Status: 500}, a[1]}, "w", "g", map[string]string{"s1": "why"})
	if len(errs) != 0 || len(notes) != 1 {
		t.Fatalf("listed difference: errors %q notes %q", errs, notes)
	}
	errs, _ = diff(a, same, "w", "g", map[string]string{"s1": "why"})
	if len(errs) != 1 || !strings.Contains(errs[0], "no longer does") {
		t.Fatalf("stale listed difference: %q", errs)
	}
}
