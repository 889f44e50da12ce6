package namespace

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Config is Centrifugo's `channel` section as far as names and namespaces go.
// Empty separators and a zero MaxLength take the defaults below (so they cannot
// be switched off, unlike in Centrifugo).
type Config struct {
	WithoutNamespace Options     `yaml:"without_namespace" json:"without_namespace"`
	Namespaces       []Namespace `yaml:"namespaces" json:"namespaces"`

	MaxLength         int    `yaml:"max_length" json:"max_length"`                 // bytes; 0: 255
	PrivatePrefix     string `yaml:"private_prefix" json:"private_prefix"`         // "": "$"
	NamespaceBoundary string `yaml:"namespace_boundary" json:"namespace_boundary"` // "": ":"
	UserBoundary      string `yaml:"user_boundary" json:"user_boundary"`           // "": "#"
	UserSeparator     string `yaml:"user_separator" json:"user_separator"`         // "": ","
}

// Defaults of Config (Centrifugo's channel.* defaults).
const (
	DefaultMaxLength         = 255
	DefaultPrivatePrefix     = "$"
	DefaultNamespaceBoundary = ":"
	DefaultUserBoundary      = "#"
	DefaultUserSeparator     = ","
)

// namePattern is Centrifugo's (internal/config/validate.go); its docs omit the dot.
const namePattern = "^[-a-zA-Z0-9_.]{2,}$"

var nameRe = regexp.MustCompile(namePattern)

func (c *Config) applyDefaults() {
	if c.MaxLength == 0 {
		c.MaxLength = DefaultMaxLength
	}
	if c.PrivatePrefix == "" {
		c.PrivatePrefix = DefaultPrivatePrefix
	}
	if c.NamespaceBoundary == "" {
		c.NamespaceBoundary = DefaultNamespaceBoundary
	}
	if c.UserBoundary == "" {
		c.UserBoundary = DefaultUserBoundary
	}
	if c.UserSeparator == "" {
		c.UserSeparator = DefaultUserSeparator
	}
}

// validate checks c (defaults applied) as Centrifugo's Config.Validate does for
// the channel section, and returns the compiled regexes of WithoutNamespace and
// of each namespace (nil where none). Errors name the namespace and the field.
func (c *Config) validate() (*regexp.Regexp, []*regexp.Regexp, error) {
	if c.MaxLength < 0 {
		return nil, nil, fmt.Errorf("max_length: must be >= 0, got %d", c.MaxLength)
	}
	seps := [...]struct{ name, v string }{
		{"private_prefix", c.PrivatePrefix},
		{"namespace_boundary", c.NamespaceBoundary},
		{"user_boundary", c.UserBoundary},
		{"user_separator", c.UserSeparator},
	}
	for i := range seps {
		for j := i + 1; j < len(seps); j++ {
			if seps[i].v == seps[j].v {
				return nil, nil, fmt.Errorf("%s and %s: must differ, both are %q", seps[i].name, seps[j].name, seps[i].v)
			}
		}
	}
	re, err := validateOptions(&c.WithoutNamespace)
	if err != nil {
		return nil, nil, fmt.Errorf("without_namespace: %w", err)
	}
	res := make([]*regexp.Regexp, len(c.Namespaces))
	seen := make(map[string]struct{}, len(c.Namespaces))
	for i := range c.Namespaces {
		ns := &c.Namespaces[i]
		if !nameRe.MatchString(ns.Name) {
			return nil, nil, fmt.Errorf("namespaces[%d]: name %q must match %s", i, ns.Name, namePattern)
		}
		if strings.Contains(ns.Name, c.NamespaceBoundary) {
			// Resolve splits at the first boundary: such a namespace is unreachable.
			return nil, nil, fmt.Errorf("namespace %q: name must not contain the namespace_boundary %q", ns.Name, c.NamespaceBoundary)
		}
		if _, dup := seen[ns.Name]; dup {
			return nil, nil, fmt.Errorf("namespace %q: name must be unique", ns.Name)
		}
		seen[ns.Name] = struct{}{}
		if res[i], err = validateOptions(&ns.Options); err != nil {
			return nil, nil, fmt.Errorf("namespace %q: %w", ns.Name, err)
		}
	}
	return re, res, nil
}

var errBothHistory = errors.New("history_size and history_ttl: both must be set (> 0) for history, or both 0")

// validateOptions mirrors Centrifugo's validateChannelOptions for the options we
// have, and compiles channel_regex.
func validateOptions(o *Options) (*regexp.Regexp, error) {
	if o.HistorySize < 0 {
		return nil, fmt.Errorf("history_size: must be >= 0, got %d", o.HistorySize)
	}
	for _, d := range [...]struct {
		name string
		v    time.Duration
	}{{"history_ttl", o.HistoryTTL}, {"history_meta_ttl", o.HistoryMetaTTL}} {
		if d.v < 0 {
			return nil, fmt.Errorf("%s: must be >= 0, got %s", d.name, d.v)
		}
		if d.v%time.Second != 0 {
			return nil, fmt.Errorf("%s: sub-second precision is not supported, got %s", d.name, d.v)
		}
	}
	if (o.HistorySize == 0) != (o.HistoryTTL == 0) {
		return nil, errBothHistory
	}
	if o.HistoryTTL > o.MetaTTL() {
		return nil, fmt.Errorf("history_ttl: %s can not be greater than history_meta_ttl %s", o.HistoryTTL, o.MetaTTL())
	}
	if o.ForceRecovery && !o.HistoryEnabled() {
		return nil, errors.New("force_recovery: needs history (history_size and history_ttl)")
	}
	switch o.ForceRecoveryMode {
	case "", RecoveryModeStream, RecoveryModeCache:
	default:
		return nil, fmt.Errorf("force_recovery_mode: unknown value %q (want \"stream\" or \"cache\")", o.ForceRecoveryMode)
	}
	switch o.PublicationDataFormat {
	case DataFormatDefault, DataFormatJSON, DataFormatJSONObject, DataFormatBinary:
	default:
		return nil, fmt.Errorf("publication_data_format: unknown value %q (want \"\", \"json\", \"json_object\" or \"binary\")", o.PublicationDataFormat)
	}
	if o.ChannelRegex == "" {
		return nil, nil
	}
	re, err := regexp.Compile(o.ChannelRegex)
	if err != nil {
		return nil, fmt.Errorf("channel_regex: %w", err)
	}
	return re, nil
}
