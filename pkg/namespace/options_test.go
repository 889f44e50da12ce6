package namespace

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const yamlConfig = `
max_length: 100
private_prefix: "!"
without_namespace:
  presence: true
  history_size: 10
  history_ttl: 300s
  allow_subscribe_for_client: true
namespaces:
  - name: chat
    presence: true
    join_leave: true
    force_push_join_leave: true
    history_size: 100
    history_ttl: 10m
    history_meta_ttl: 24h
    force_positioning: true
    allow_positioning: true
    force_recovery: true
    allow_recovery: true
    force_recovery_mode: cache
    allow_subscribe_for_client: true
    allow_subscribe_for_anonymous: true
    allow_publish_for_client: true
    allow_publish_for_subscriber: true
    allow_publish_for_anonymous: true
    allow_presence_for_client: true
    allow_presence_for_subscriber: true
    allow_presence_for_anonymous: true
    allow_history_for_client: true
    allow_history_for_subscriber: true
    allow_history_for_anonymous: true
    allow_user_limited_channels: true
    channel_regex: "^[a-z]+$"
    publication_data_format: json_object
  - name: news
`

// allTrue is the "chat" namespace of yamlConfig.
var allTrue = Namespace{Name: "chat", Options: Options{
	Presence: true, JoinLeave: true, ForcePushJoinLeave: true,
	HistorySize: 100, HistoryTTL: 10 * time.Minute, HistoryMetaTTL: 24 * time.Hour,
	ForcePositioning: true, AllowPositioning: true, ForceRecovery: true, AllowRecovery: true, ForceRecoveryMode: "cache",
	AllowSubscribeForClient: true, AllowSubscribeForAnonymous: true,
	AllowPublishForClient: true, AllowPublishForSubscriber: true, AllowPublishForAnonymous: true,
	AllowPresenceForClient: true, AllowPresenceForSubscriber: true, AllowPresenceForAnonymous: true,
	AllowHistoryForClient: true, AllowHistoryForSubscriber: true, AllowHistoryForAnonymous: true,
	AllowUserLimitedChannels: true, ChannelRegex: "^[a-z]+$", PublicationDataFormat: "json_object",
}}

var wantYAMLConfig = Config{
	MaxLength:        100,
	PrivatePrefix:    "!",
	WithoutNamespace: Options{Presence: true, HistorySize: 10, HistoryTTL: 300 * time.Second, AllowSubscribeForClient: true},
	Namespaces:       []Namespace{allTrue, {Name: "news"}},
}

func TestYAML(t *testing.T) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(yamlConfig))
	dec.KnownFields(true) // every key above is a field: names match Centrifugo's
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, wantYAMLConfig) {
		t.Fatalf("got  %+v\nwant %+v", c, wantYAMLConfig)
	}
	if _, err := New(c); err != nil {
		t.Fatal(err)
	}
	// Round trip: durations are written as strings.
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "history_ttl: 10m0s") {
		t.Fatalf("durations not strings:\n%s", out)
	}
	var back Config
	if err := yaml.Unmarshal(out, &back); err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip: %v\n%+v", err, back)
	}
}

func TestYAMLBadDuration(t *testing.T) {
	for _, in := range []string{"history_ttl: 300", "history_ttl: 5 minutes", "history_meta_ttl: true"} {
		var o Options
		if err := yaml.Unmarshal([]byte(in), &o); err == nil {
			t.Errorf("%q: no error, got %v", in, o.HistoryTTL)
		}
	}
}

func TestJSON(t *testing.T) {
	in := `{"max_length":100,"private_prefix":"!",
	"without_namespace":{"presence":true,"history_size":10,"history_ttl":"300s","allow_subscribe_for_client":true},
	"namespaces":[` + mustJSON(t, allTrue) + `,{"name":"news"}]}`
	var c Config
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, wantYAMLConfig) {
		t.Fatalf("got  %+v\nwant %+v", c, wantYAMLConfig)
	}
	nsJSON := mustJSON(t, allTrue)
	for _, want := range []string{`"name":"chat"`, `"history_ttl":"10m0s"`, `"history_meta_ttl":"24h0m0s"`, `"force_recovery_mode":"cache"`, `"allow_history_for_anonymous":true`} {
		if !strings.Contains(nsJSON, want) {
			t.Errorf("%s lacks %s", nsJSON, want)
		}
	}
	// Nanoseconds, as Centrifugo's configtypes.Duration.
	var o Options
	if err := json.Unmarshal([]byte(`{"history_ttl":1000000000,"history_size":3}`), &o); err != nil || o.HistoryTTL != time.Second || o.HistorySize != 3 {
		t.Fatal(o, err)
	}
	for _, bad := range []string{`{"history_ttl":"5 minutes"}`, `{"history_ttl":true}`, `{"presence":"yes"}`} {
		if err := json.Unmarshal([]byte(bad), &o); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	var n Namespace
	for _, bad := range []string{`{"name":1}`, `{"name":"x","history_ttl":"x"}`, `[`} {
		if err := json.Unmarshal([]byte(bad), &n); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	n = Namespace{}
	if err := json.Unmarshal([]byte(`{"name":"x","presence":true,"history_ttl":"1s"}`), &n); err != nil || n.Name != "x" || !n.Presence || n.HistoryTTL != time.Second {
		t.Fatal(n, err)
	}
	if s := mustJSON(t, Namespace{Name: "e"}); !strings.HasPrefix(s, `{"name":"e","presence":false,`) {
		t.Fatal(s)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
