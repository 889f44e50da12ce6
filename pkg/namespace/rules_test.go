package namespace

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustNew(t testing.TB, cfg Config) *Rules {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	r := mustNew(t, Config{
		WithoutNamespace: Options{Presence: true},
		Namespaces: []Namespace{
			{Name: "chat", Options: Options{JoinLeave: true}},
			{Name: "re.gex", Options: Options{ChannelRegex: `^[a-z]+$`}},
			{Name: "uni", Options: Options{ChannelRegex: `^\p{L}+$`}},
		},
	})
	chat, _ := r.Namespace("chat")
	without, _ := r.Namespace("")
	regex, _ := r.Namespace("re.gex")
	uni, _ := r.Namespace("uni")
	max := strings.Repeat("a", 255)
	cases := []struct {
		ch   string
		opts *Options
		ns   string
		err  error
	}{
		{"news", without, "", nil},
		{"$news", without, "", nil},
		{"chat:index", chat, "chat", nil},
		{"$chat:index", chat, "chat", nil},
		{"chat:a:b", chat, "chat", nil}, // ':' in the name part
		{"chat:", chat, "chat", nil},
		{":abc", without, "", nil}, // empty namespace name: without_namespace, as Centrifugo
		{"$$chat:x", nil, "", ErrUnknownChannel},
		{"other:x", nil, "", ErrUnknownChannel},
		{"Chat:x", nil, "", ErrUnknownChannel},
		{"a#1,2", without, "", nil},
		{"chat:dialog#1,2", chat, "chat", nil},
		{"", nil, "", ErrBadChannel},
		{max, without, "", nil},
		{max + "a", nil, "", ErrBadChannel},
		{"chat:" + max[5:], chat, "chat", nil},
		{"chat:" + max[4:], nil, "", ErrBadChannel},
		{"новости", nil, "", ErrBadChannel},
		{"chat:новости", nil, "", ErrBadChannel},
		{"news\x7f", without, "", nil},
		{"news\x80", nil, "", ErrBadChannel},
		{"re.gex:abc", regex, "re.gex", nil},
		{"re.gex:abc1", nil, "", ErrBadChannel},
		{"re.gex:", nil, "", ErrBadChannel},
		{"uni:новости", uni, "uni", nil}, // regex replaces the ASCII rule
		{"uni:a1", nil, "", ErrBadChannel},
		{"unknown:новости", nil, "", ErrUnknownChannel}, // 102 before 107, as Centrifugo
	}
	for _, c := range cases {
		opts, ns, err := r.Resolve(c.ch)
		if opts != c.opts || ns != c.ns || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("Resolve(%q) = %p, %q, %v; want %p, %q, %v", c.ch, opts, ns, err, c.opts, c.ns, c.err)
		}
	}
	if chat.JoinLeave != true || without.Presence != true {
		t.Fatal("options not kept")
	}
}

func TestResolveRegexWithoutNamespace(t *testing.T) {
	// Without a namespace the regex sees the whole channel, private prefix included.
	r := mustNew(t, Config{WithoutNamespace: Options{ChannelRegex: `^\$?[a-z]+$`}})
	for ch, want := range map[string]error{"news": nil, "$news": nil, "news1": ErrBadChannel, "$$news": ErrBadChannel, "ns:x": ErrUnknownChannel} {
		_, _, err := r.Resolve(ch)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%q: %v, want %v", ch, err, want)
		}
	}
}

func TestCustomSeparators(t *testing.T) {
	r := mustNew(t, Config{
		Namespaces:        []Namespace{{Name: "chat", Options: Options{AllowUserLimitedChannels: true}}},
		MaxLength:         10,
		PrivatePrefix:     "!",
		NamespaceBoundary: "/",
		UserBoundary:      "@",
		UserSeparator:     ";",
	})
	chat, _ := r.Namespace("chat")
	for ch, want := range map[string]struct {
		ns  string
		err error
	}{
		"!chat/a":     {"chat", nil},
		"chat/a":      {"chat", nil},
		"chat:a":      {"", nil}, // ':' is an ordinary character now
		"$chat/a":     {"", ErrUnknownChannel},
		"chat/abcde":  {"chat", nil}, // 10
		"chat/abcdef": {"", ErrBadChannel},
	} {
		_, ns, err := r.Resolve(ch)
		if ns != want.ns || !errors.Is(err, want.err) || (want.err == nil) != (err == nil) {
			t.Errorf("%q: %q, %v; want %q, %v", ch, ns, err, want.ns, want.err)
		}
	}
	if !r.IsPrivate("!x") || r.IsPrivate("$x") {
		t.Error("IsPrivate with custom prefix")
	}
	if !r.IsUserLimited("chat/d@1", chat) || r.IsUserLimited("chat/d#1", chat) {
		t.Error("IsUserLimited with custom boundary")
	}
	if !r.UserAllowed("d@1;2", "2") || r.UserAllowed("d@1,2", "2") || !r.UserAllowed("d@1,2", "1,2") {
		t.Error("UserAllowed with custom separator")
	}
}

func TestIsPrivate(t *testing.T) {
	r := mustNew(t, Config{})
	for ch, want := range map[string]bool{"$news": true, "news": false, "$": true, "a$b": false, "": false, "$chat:x": true} {
		if got := r.IsPrivate(ch); got != want {
			t.Errorf("IsPrivate(%q) = %v", ch, got)
		}
	}
}

func TestUserLimited(t *testing.T) {
	r := mustNew(t, Config{})
	on := &Options{AllowUserLimitedChannels: true}
	off := &Options{}
	for _, c := range []struct {
		ch       string
		opts     *Options
		limited  bool
		user     string
		allowed  bool
		comments string
	}{
		{"news#42", on, true, "42", true, ""},
		{"news#42", on, true, "4", false, ""},
		{"news#42", on, true, "", false, ""},
		{"news#42", off, false, "4", false, "UserAllowed ignores opts"},
		{"dialog#42,43", on, true, "43", true, ""},
		{"dialog#42,43", on, true, "42,43", false, ""},
		{"dialog#43,42", on, true, "42", true, ""},
		{"a#1#2", on, true, "2", true, "last boundary"},
		{"a#1#2", on, true, "1", false, "last boundary"},
		{"a#", on, true, "", true, "empty list allows the anonymous user, as Centrifugo"},
		{"a#,", on, true, "", true, ""},
		{"news", on, false, "x", true, "no boundary: everyone"},
		{"news", nil, false, "x", true, ""},
	} {
		if got := r.IsUserLimited(c.ch, c.opts); got != c.limited {
			t.Errorf("IsUserLimited(%q) = %v", c.ch, got)
		}
		if got := r.UserAllowed(c.ch, c.user); got != c.allowed {
			t.Errorf("UserAllowed(%q, %q) = %v %s", c.ch, c.user, got, c.comments)
		}
	}
}

func TestValidData(t *testing.T) {
	r := mustNew(t, Config{})
	for _, c := range []struct {
		format string
		data   string
		ok     bool
	}{
		{"", "", false},
		{"", "x", true},
		{"", "{", true},
		{"json", "", false},
		{"json", `"s"`, true},
		{"json", `{"a":1}`, true},
		{"json", `{`, false},
		{"json_object", ` {"a":1} `, true},
		{"json_object", `[1]`, false},
		{"json_object", `"{}"`, false},
		{"json_object", ``, false},
		{"json_object", `{}`, true},
		{"binary", "", true},
		{"binary", "\xff", true},
	} {
		if got := r.ValidData(&Options{PublicationDataFormat: c.format}, []byte(c.data)); got != c.ok {
			t.Errorf("ValidData(%q, %q) = %v", c.format, c.data, got)
		}
	}
	if r.ValidData(nil, nil) || !r.ValidData(nil, []byte("x")) {
		t.Error("nil opts are the default format")
	}
}

func TestHistoryEnabled(t *testing.T) {
	for _, c := range []struct {
		size int
		ttl  time.Duration
		want bool
	}{{0, 0, false}, {1, 0, false}, {0, time.Second, false}, {1, time.Second, true}, {-1, time.Second, false}} {
		o := Options{HistorySize: c.size, HistoryTTL: c.ttl}
		if o.HistoryEnabled() != c.want {
			t.Errorf("%d %s", c.size, c.ttl)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := mustNew(t, Config{}).Config()
	if c.MaxLength != 255 || c.PrivatePrefix != "$" || c.NamespaceBoundary != ":" || c.UserBoundary != "#" || c.UserSeparator != "," {
		t.Fatalf("%+v", c)
	}
	o := Options{}
	if o.RecoveryMode() != "stream" || o.MetaTTL() != 720*time.Hour {
		t.Fatal(o.RecoveryMode(), o.MetaTTL())
	}
}

func TestValidation(t *testing.T) {
	hist := Options{HistorySize: 10, HistoryTTL: 300 * time.Second}
	ns := func(name string, o Options) []Namespace { return []Namespace{{Name: name, Options: o}} }
	for _, c := range []struct {
		cfg  Config
		want string // every word must appear in the error
	}{
		{Config{Namespaces: ns("a", Options{})}, `name "a" must match`},
		{Config{Namespaces: ns("", Options{})}, `name "" must match`},
		{Config{Namespaces: ns("ch at", Options{})}, `name "ch at" must match`},
		{Config{Namespaces: ns("chat:x", Options{})}, `"chat:x" must match`},
		{Config{Namespaces: ns("a.b", Options{}), NamespaceBoundary: "."}, `namespace "a.b": name must not contain the namespace_boundary`},
		{Config{Namespaces: []Namespace{{Name: "chat"}, {Name: "news"}, {Name: "chat"}}}, `namespace "chat": name must be unique`},
		{Config{Namespaces: ns("chat", Options{HistorySize: 10})}, `namespace "chat": history_size and history_ttl`},
		{Config{Namespaces: ns("chat", Options{HistoryTTL: time.Second})}, `namespace "chat": history_size and history_ttl`},
		{Config{WithoutNamespace: Options{HistorySize: 1}}, `without_namespace: history_size and history_ttl`},
		{Config{Namespaces: ns("chat", Options{HistorySize: -1, HistoryTTL: time.Second})}, `namespace "chat": history_size: must be >= 0`},
		{Config{Namespaces: ns("chat", Options{HistorySize: 1, HistoryTTL: -time.Second})}, `namespace "chat": history_ttl: must be >= 0`},
		{Config{Namespaces: ns("chat", Options{HistorySize: 1, HistoryTTL: 1500 * time.Millisecond})}, `namespace "chat": history_ttl: sub-second`},
		{Config{Namespaces: ns("chat", Options{HistoryMetaTTL: 500 * time.Millisecond})}, `namespace "chat": history_meta_ttl: sub-second`},
		{Config{Namespaces: ns("chat", Options{HistorySize: 1, HistoryTTL: time.Hour, HistoryMetaTTL: time.Minute})}, `namespace "chat": history_ttl: 1h0m0s can not be greater than history_meta_ttl 1m0s`},
		{Config{Namespaces: ns("chat", Options{HistorySize: 1, HistoryTTL: 721 * time.Hour})}, `namespace "chat": history_ttl: 721h0m0s can not be greater than history_meta_ttl 720h0m0s`},
		{Config{Namespaces: ns("chat", Options{ForceRecovery: true})}, `namespace "chat": force_recovery: needs history`},
		{Config{Namespaces: ns("chat", Options{HistorySize: 1, HistoryTTL: time.Second, ForceRecoveryMode: "Stream"})}, `namespace "chat": force_recovery_mode: unknown value "Stream"`},
		{Config{Namespaces: ns("chat", Options{PublicationDataFormat: "xml"})}, `namespace "chat": publication_data_format: unknown value "xml"`},
		{Config{Namespaces: ns("chat", Options{ChannelRegex: "(["})}, `namespace "chat": channel_regex:`},
		{Config{WithoutNamespace: Options{ChannelRegex: "(["}}, `without_namespace: channel_regex:`},
		{Config{MaxLength: -1}, `max_length: must be >= 0`},
		{Config{UserBoundary: ":"}, `namespace_boundary and user_boundary: must differ`},
		{Config{PrivatePrefix: ","}, `private_prefix and user_separator: must differ`},
	} {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v\nwant it to contain %s", err, c.want)
		}
	}
	// Valid limits.
	for _, cfg := range []Config{
		{Namespaces: ns("ab", Options{})},
		{Namespaces: ns("-_.aZ09", Options{})},
		{Namespaces: ns("chat", hist)},
		{Namespaces: ns("chat", Options{HistorySize: 1, HistoryTTL: 720 * time.Hour})},
		{Namespaces: ns("chat", Options{HistorySize: 1, HistoryTTL: time.Minute, HistoryMetaTTL: time.Minute, ForceRecovery: true, ForceRecoveryMode: "cache"})},
		{Namespaces: ns("chat", Options{PublicationDataFormat: "json_object", ChannelRegex: "^x$"})},
	} {
		if _, err := New(cfg); err != nil {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}

func TestNewCopiesConfig(t *testing.T) {
	nss := []Namespace{{Name: "chat", Options: Options{Presence: true}}}
	r := mustNew(t, Config{Namespaces: nss})
	nss[0].Name = "other"
	nss[0].Presence = false
	if o, ok := r.Namespace("chat"); !ok || !o.Presence {
		t.Fatal("Rules changed with the caller's slice")
	}
	if r.Config().Namespaces[0].Name != "chat" {
		t.Fatal("Config changed with the caller's slice")
	}
}

func TestNamespaceLookup(t *testing.T) {
	r := mustNew(t, Config{Namespaces: []Namespace{{Name: "chat", Options: Options{ForceRecoveryMode: "cache", HistoryMetaTTL: time.Hour}}}})
	o, ok := r.Namespace("chat")
	if !ok || o.RecoveryMode() != "cache" || o.MetaTTL() != time.Hour {
		t.Fatal(o, ok)
	}
	if o, ok := r.Namespace("nope"); ok || o != nil {
		t.Fatal(o, ok)
	}
	if o, ok := r.Namespace(""); !ok || o == nil {
		t.Fatal("without_namespace missing")
	}
}
