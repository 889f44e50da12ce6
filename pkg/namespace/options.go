// Package namespace holds the Centrifugo channel-name rules and the per-namespace
// channel options (protocol reference section 7; Centrifugo v6.9.1
// internal/config/container.go, internal/configtypes/namespace.go,
// internal/config/validate.go). It does no I/O.
package namespace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Publication data formats (option publication_data_format).
const (
	DataFormatDefault    = ""            // any non-empty data
	DataFormatJSON       = "json"        // valid JSON
	DataFormatJSONObject = "json_object" // valid JSON whose top level is an object
	DataFormatBinary     = "binary"      // anything, empty included
)

// Recovery modes (option force_recovery_mode).
const (
	RecoveryModeStream = "stream"
	RecoveryModeCache  = "cache"
)

// Options are the options of one namespace (or of channels without one). Field
// names in YAML and JSON are Centrifugo's. Durations decode from strings such as
// "300s" or "10m" in both YAML and JSON (JSON also takes a number of
// nanoseconds, as Centrifugo does); YAML rejects bare integers for durations.
// All fields default to false / 0 / "".
type Options struct {
	Presence           bool `yaml:"presence" json:"presence"`
	JoinLeave          bool `yaml:"join_leave" json:"join_leave"`
	ForcePushJoinLeave bool `yaml:"force_push_join_leave" json:"force_push_join_leave"`

	HistorySize    int           `yaml:"history_size" json:"history_size"`
	HistoryTTL     time.Duration `yaml:"history_ttl" json:"history_ttl"`
	HistoryMetaTTL time.Duration `yaml:"history_meta_ttl" json:"history_meta_ttl"` // 0: DefaultHistoryMetaTTL

	ForcePositioning  bool   `yaml:"force_positioning" json:"force_positioning"`
	AllowPositioning  bool   `yaml:"allow_positioning" json:"allow_positioning"`
	ForceRecovery     bool   `yaml:"force_recovery" json:"force_recovery"`
	AllowRecovery     bool   `yaml:"allow_recovery" json:"allow_recovery"`
	ForceRecoveryMode string `yaml:"force_recovery_mode" json:"force_recovery_mode"` // "" = "stream"

	AllowSubscribeForClient    bool `yaml:"allow_subscribe_for_client" json:"allow_subscribe_for_client"`
	AllowSubscribeForAnonymous bool `yaml:"allow_subscribe_for_anonymous" json:"allow_subscribe_for_anonymous"`

	AllowPublishForClient     bool `yaml:"allow_publish_for_client" json:"allow_publish_for_client"`
	AllowPublishForSubscriber bool `yaml:"allow_publish_for_subscriber" json:"allow_publish_for_subscriber"`
	AllowPublishForAnonymous  bool `yaml:"allow_publish_for_anonymous" json:"allow_publish_for_anonymous"`

	AllowPresenceForClient     bool `yaml:"allow_presence_for_client" json:"allow_presence_for_client"`
	AllowPresenceForSubscriber bool `yaml:"allow_presence_for_subscriber" json:"allow_presence_for_subscriber"`
	AllowPresenceForAnonymous  bool `yaml:"allow_presence_for_anonymous" json:"allow_presence_for_anonymous"`

	AllowHistoryForClient     bool `yaml:"allow_history_for_client" json:"allow_history_for_client"`
	AllowHistoryForSubscriber bool `yaml:"allow_history_for_subscriber" json:"allow_history_for_subscriber"`
	AllowHistoryForAnonymous  bool `yaml:"allow_history_for_anonymous" json:"allow_history_for_anonymous"`

	AllowUserLimitedChannels bool `yaml:"allow_user_limited_channels" json:"allow_user_limited_channels"`

	// ChannelRegex, when set, must match the part of the channel after the
	// namespace boundary (the whole channel for channels without namespace);
	// it replaces the ASCII-only rule.
	ChannelRegex string `yaml:"channel_regex" json:"channel_regex"`

	PublicationDataFormat string `yaml:"publication_data_format" json:"publication_data_format"`

	// Proxy switches (Centrifugo v6 channel.namespaces[].*_proxy_enabled):
	// the node asks the configured subscribe, publish or sub_refresh proxy
	// instead of the allow_* options (reference section 9).
	SubscribeProxyEnabled  bool `yaml:"subscribe_proxy_enabled" json:"subscribe_proxy_enabled"`
	PublishProxyEnabled    bool `yaml:"publish_proxy_enabled" json:"publish_proxy_enabled"`
	SubRefreshProxyEnabled bool `yaml:"sub_refresh_proxy_enabled" json:"sub_refresh_proxy_enabled"`
}

// DefaultHistoryMetaTTL is Centrifugo's channel.history_meta_ttl default, used
// when HistoryMetaTTL is 0.
const DefaultHistoryMetaTTL = 720 * time.Hour

// HistoryEnabled reports whether the channel keeps history: Centrifugo answers
// 108 (not available) to history requests unless both size and ttl are > 0.
func (o *Options) HistoryEnabled() bool {
	return o.HistorySize > 0 && o.HistoryTTL > 0
}

// RecoveryMode returns ForceRecoveryMode with its default ("stream") applied.
func (o *Options) RecoveryMode() string {
	if o.ForceRecoveryMode == "" {
		return RecoveryModeStream
	}
	return o.ForceRecoveryMode
}

// MetaTTL returns HistoryMetaTTL with its default (DefaultHistoryMetaTTL) applied.
func (o *Options) MetaTTL() time.Duration {
	if o.HistoryMetaTTL == 0 {
		return DefaultHistoryMetaTTL
	}
	return o.HistoryMetaTTL
}

// jsonDuration reads a duration as Centrifugo's configtypes.Duration does: a
// string for time.ParseDuration, or a number of nanoseconds. It writes strings.
type jsonDuration time.Duration

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = jsonDuration(v)
		return nil
	}
	var ns int64
	if err := json.Unmarshal(b, &ns); err != nil {
		return fmt.Errorf("duration must be a string such as \"300s\" or nanoseconds: %w", err)
	}
	*d = jsonDuration(ns)
	return nil
}

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// optionsJSON is Options with its durations as jsonDuration: the outer fields
// shadow the embedded ones of the same JSON name.
type optionsJSON struct {
	*optionsNoMethods
	HistoryTTL     jsonDuration `json:"history_ttl"`
	HistoryMetaTTL jsonDuration `json:"history_meta_ttl"`
}

type optionsNoMethods Options

// UnmarshalJSON decodes Centrifugo's JSON names, durations as strings ("300s")
// or nanoseconds.
func (o *Options) UnmarshalJSON(b []byte) error {
	w := optionsJSON{
		optionsNoMethods: (*optionsNoMethods)(o),
		HistoryTTL:       jsonDuration(o.HistoryTTL),
		HistoryMetaTTL:   jsonDuration(o.HistoryMetaTTL),
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	o.HistoryTTL = time.Duration(w.HistoryTTL)
	o.HistoryMetaTTL = time.Duration(w.HistoryMetaTTL)
	return nil
}

// MarshalJSON writes Centrifugo's JSON names, durations as strings.
func (o Options) MarshalJSON() ([]byte, error) {
	return json.Marshal(optionsJSON{
		optionsNoMethods: (*optionsNoMethods)(&o),
		HistoryTTL:       jsonDuration(o.HistoryTTL),
		HistoryMetaTTL:   jsonDuration(o.HistoryMetaTTL),
	})
}

// Namespace is one entry of channel.namespaces: a name and its options inline.
type Namespace struct {
	Name    string `yaml:"name" json:"name"`
	Options `yaml:",inline"`
}

// UnmarshalJSON decodes {"name": ..., <options>...}; it exists because the
// embedded Options' method would otherwise drop the name.
func (n *Namespace) UnmarshalJSON(b []byte) error {
	var name struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	if err := n.Options.UnmarshalJSON(b); err != nil {
		return err
	}
	n.Name = name.Name
	return nil
}

// MarshalJSON writes {"name": ..., <options>...}.
func (n Namespace) MarshalJSON() ([]byte, error) {
	opts, err := n.Options.MarshalJSON()
	if err != nil {
		return nil, err
	}
	name, err := json.Marshal(n.Name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(opts) + len(name) + 9)
	b.WriteString(`{"name":`)
	b.Write(name)
	if len(opts) > 2 {
		b.WriteByte(',')
	}
	b.Write(opts[1:])
	return b.Bytes(), nil
}
