package namespace

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Errors of Resolve. The channel protocol answers them with reply errors 102
// (unknown channel) and 107 (bad request).
var (
	ErrUnknownChannel = errors.New("namespace: unknown channel: namespace not configured")
	ErrBadChannel     = errors.New("namespace: bad channel name: empty, too long, non-ASCII or not matching channel_regex")
)

// Rules resolves channel names to their options. It is immutable after New and
// safe for concurrent use.
type Rules struct {
	cfg       Config
	without   compiled
	byName    map[string]*compiled
	maxLength int
}

type compiled struct {
	opts Options
	re   *regexp.Regexp
}

// New validates cfg (after applying defaults) and returns its Rules. Errors name
// the offending namespace and field, e.g. `namespace "chat": history_size and
// history_ttl: both must be set ...`. cfg is copied; later changes to it have no
// effect.
func New(cfg Config) (*Rules, error) {
	cfg.Namespaces = append([]Namespace(nil), cfg.Namespaces...)
	cfg.applyDefaults()
	re, res, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	r := &Rules{
		cfg:       cfg,
		without:   compiled{opts: cfg.WithoutNamespace, re: re},
		byName:    make(map[string]*compiled, len(cfg.Namespaces)),
		maxLength: cfg.MaxLength,
	}
	for i := range cfg.Namespaces {
		r.byName[cfg.Namespaces[i].Name] = &compiled{opts: cfg.Namespaces[i].Options, re: res[i]}
	}
	return r, nil
}

// Config returns the configuration in use, defaults applied.
func (r *Rules) Config() Config {
	c := r.cfg
	c.Namespaces = append([]Namespace(nil), c.Namespaces...)
	return c
}

// Namespace returns the options of the named namespace ("" = channels without
// namespace). The returned Options are shared: do not modify them.
func (r *Rules) Namespace(name string) (*Options, bool) {
	if name == "" {
		return &r.without.opts, true
	}
	c, ok := r.byName[name]
	if !ok {
		return nil, false
	}
	return &c.opts, true
}

// Resolve returns the options of channel and its namespace name ("" for
// channels without namespace), as Centrifugo does (container.go namespaceName,
// handler.go validChannelName), checked in this order:
//   - empty or longer than MaxLength bytes -> ErrBadChannel;
//   - one leading PrivatePrefix is stripped; the namespace is the part before
//     the first NamespaceBoundary (none: WithoutNamespace); not configured ->
//     ErrUnknownChannel;
//   - with channel_regex, the part after the boundary (the whole channel when
//     there is no boundary, prefix included, as in Centrifugo) must match it,
//     else ErrBadChannel; without a regex, channel must be ASCII, else ErrBadChannel.
//
// The returned Options are shared: do not modify them. Resolve does not allocate.
func (r *Rules) Resolve(channel string) (opts *Options, namespace string, err error) {
	if channel == "" || len(channel) > r.maxLength {
		return nil, "", ErrBadChannel
	}
	c := &r.without
	rest := channel
	trimmed := strings.TrimPrefix(channel, r.cfg.PrivatePrefix)
	if i := strings.Index(trimmed, r.cfg.NamespaceBoundary); i >= 0 {
		namespace = trimmed[:i]
		rest = trimmed[i+len(r.cfg.NamespaceBoundary):]
		if namespace != "" {
			var ok bool
			if c, ok = r.byName[namespace]; !ok {
				return nil, "", ErrUnknownChannel
			}
		}
	}
	if c.re != nil {
		if !c.re.MatchString(rest) {
			return nil, "", ErrBadChannel
		}
	} else if !isASCII(channel) {
		return nil, "", ErrBadChannel
	}
	return &c.opts, namespace, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// IsPrivate reports whether channel starts with the private prefix ("$"): such
// channels need a subscription token (else error 103).
func (r *Rules) IsPrivate(channel string) bool {
	return strings.HasPrefix(channel, r.cfg.PrivatePrefix)
}

// IsUserLimited reports whether channel is a user-limited channel: opts allow
// them (allow_user_limited_channels) and channel contains the user boundary ("#").
func (r *Rules) IsUserLimited(channel string, opts *Options) bool {
	return opts != nil && opts.AllowUserLimitedChannels && strings.Contains(channel, r.cfg.UserBoundary)
}

// UserAllowed reports whether user may subscribe to channel by its user list:
// the part after the last user boundary, split by the user separator
// ("dialog#42,43" allows "42" and "43"). A channel without the boundary allows
// everyone. It does not allocate.
func (r *Rules) UserAllowed(channel, user string) bool {
	i := strings.LastIndex(channel, r.cfg.UserBoundary)
	if i < 0 {
		return true
	}
	list := channel[i+len(r.cfg.UserBoundary):]
	for {
		j := strings.Index(list, r.cfg.UserSeparator)
		if j < 0 {
			return list == user
		}
		if list[:j] == user {
			return true
		}
		list = list[j+len(r.cfg.UserSeparator):]
	}
}

// ValidData reports whether publication data suits opts.PublicationDataFormat
// (Centrifugo config/format.go): "" needs non-empty data, "json" valid JSON,
// "json_object" a JSON object, "binary" anything. A false answer is error 107.
// nil opts count as the default format.
func (r *Rules) ValidData(opts *Options, data []byte) bool {
	format := DataFormatDefault
	if opts != nil {
		format = opts.PublicationDataFormat
	}
	switch format {
	case DataFormatJSON:
		return json.Valid(data)
	case DataFormatJSONObject:
		return isJSONObject(data)
	case DataFormatBinary:
		return true
	default:
		return len(data) > 0
	}
}

func isJSONObject(data []byte) bool {
	if !json.Valid(data) {
		return false
	}
	for len(data) > 0 && isSpace(data[0]) {
		data = data[1:]
	}
	return len(data) > 0 && data[0] == '{'
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
