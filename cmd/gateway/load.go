package main

import (
	_ "embed"
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/xh-control/gateway/pkg/broker/natsbroker"
)

// defaultsYAML is the configuration the gateway runs with when nothing else
// is given; it doubles as the documented example file.
//
//go:embed gateway.yaml
var defaultsYAML []byte

// option is one configuration key, reachable from the file, the
// environment and the command line.
type option struct {
	key  string // session.queue_max_bytes
	env  string // GATEWAY_SESSION_QUEUE_MAX_BYTES
	flag string // session.queue-max-bytes
	help string
	// secret options (secret:"true") are shown as redactedValue.
	secret bool
	val    reflect.Value
}

// redactedValue stands for a secret option's value that is set.
const redactedValue = "<redacted>"

// options lists every leaf of cfg in declaration order.
func options(cfg *Config) []option {
	var out []option
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Tag.Get("opt") == "-" {
				continue // set in YAML only
			}
			key := prefix + f.Tag.Get("yaml")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(v.Field(i), key+".")
				continue
			}
			out = append(out, option{
				key:    key,
				env:    "GATEWAY_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key)),
				flag:   strings.ReplaceAll(key, "_", "-"),
				help:   f.Tag.Get("help"),
				secret: f.Tag.Get("secret") == "true",
				val:    v.Field(i),
			})
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "")
	return out
}

// set parses s into the option's value.
func (o option) set(s string) error {
	v := o.val
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return tu.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeFor[time.Duration]() {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("want a duration such as 30s or 1m30s, got %q", s)
			}
			v.SetInt(int64(d))
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		v.SetInt(n)
	case reflect.Slice:
		var items []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported option type %s", v.Type())
	}
	return nil
}

// String renders the current value the way set accepts it; a secret that
// is set is redactedValue.
func (o option) String() string {
	v := o.val
	if o.secret && !v.IsZero() {
		return redactedValue
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	if v.Kind() == reflect.Slice {
		return strings.Join(v.Interface().([]string), ",")
	}
	return fmt.Sprint(v.Interface())
}

// typeName is what -h shows after a flag.
func (o option) typeName() string {
	switch o.val.Interface().(type) {
	case time.Duration:
		return "duration"
	case ByteSize:
		return "size"
	case bool:
		return "bool"
	case int, int64:
		return "int"
	case []string:
		return "list"
	}
	return "string"
}

// invocation holds what the command line asked for besides options.
type invocation struct {
	args        []string // as given, for reloads
	configPath  string
	version     bool
	printConfig bool
}

// recordedFlag remembers a flag's raw value so that flags can be applied
// after the file and the environment, whatever their order on the line.
type recordedFlag struct {
	opt  option
	raw  *[]recorded
	bool bool
}

type recorded struct {
	opt option
	raw string
}

func (r recordedFlag) String() string { return "" }
func (r recordedFlag) Set(s string) error {
	probe := r.opt
	probe.val = reflect.New(r.opt.val.Type()).Elem()
	if err := probe.set(s); err != nil { // report bad values with the flag's name
		if r.opt.secret {
			return errors.New("invalid value") // never echo a secret
		}
		return err
	}
	*r.raw = append(*r.raw, recorded{opt: r.opt, raw: s})
	return nil
}
func (r recordedFlag) IsBoolFlag() bool { return r.bool }

// loadConfig builds the configuration from the defaults, the file, the
// environment and args, in that order of precedence (lowest first).
func loadConfig(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (*Config, invocation, error) {
	inv := invocation{args: args}
	cfg := &Config{}
	if err := decodeYAML(defaultsYAML, cfg); err != nil {
		return nil, inv, fmt.Errorf("built-in defaults: %w", err)
	}
	defaults := options(cfg)
	defaultText := make(map[string]string, len(defaults))
	for _, o := range defaults {
		defaultText[o.key] = o.String()
	}

	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints the error and a hint, not 100 lines of usage
	fs.StringVar(&inv.configPath, "config", "", "YAML configuration `file` (env GATEWAY_CONFIG); see the built-in defaults with -print-config")
	fs.BoolVar(&inv.version, "version", false, "print the version and exit")
	fs.BoolVar(&inv.printConfig, "print-config", false, "print the effective configuration as YAML and exit")
	var flagged []recorded
	for _, o := range options(cfg) {
		fs.Var(recordedFlag{opt: o, raw: &flagged, bool: o.val.Kind() == reflect.Bool}, o.flag, o.help)
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stderr, fs, defaults, defaultText)
			return nil, inv, err
		}
		return nil, inv, flagError{explainFlagError(err, fs)}
	}
	if fs.NArg() > 0 {
		return nil, inv, flagError{fmt.Errorf("unexpected argument %q: options are flags", fs.Arg(0))}
	}

	if inv.configPath == "" {
		inv.configPath, _ = lookupEnv("GATEWAY_CONFIG")
	}
	if inv.configPath != "" {
		data, err := os.ReadFile(inv.configPath)
		if err != nil {
			return nil, inv, fmt.Errorf("config file: %w", err)
		}
		if err := decodeYAML(data, cfg); err != nil {
			return nil, inv, fmt.Errorf("config file %s: %w", inv.configPath, err)
		}
	}
	for _, o := range options(cfg) {
		if s, ok := lookupEnv(o.env); ok {
			if err := o.set(s); err != nil {
				if o.secret {
					err = errors.New("invalid value") // never echo a secret
				}
				return nil, inv, fmt.Errorf("%s: %w", o.env, err)
			}
		}
	}
	for _, r := range flagged {
		r.opt.set(r.raw) // already checked by Set
	}
	if err := cfg.validate(); err != nil {
		return nil, inv, err
	}
	return cfg, inv, nil
}

// flagError is a bad command line; run adds where the options are listed.
type flagError struct{ error }

func (e flagError) Unwrap() error { return e.error }

// explainFlagError adds the nearest flag to "flag provided but not defined".
func explainFlagError(err error, fs *flag.FlagSet) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return err
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if near := nearest(strings.TrimLeft(name, "-"), names); near != "" {
		return fmt.Errorf("%w (did you mean -%s?)", err, near)
	}
	return err
}

// decodeYAML decodes data onto cfg, keeping keys it does not mention. Every
// problem is reported, each with its line and key: a key cfg does not have
// (a typo must not be ignored silently) with the nearest valid key, a value
// of the wrong type with the type wanted.
func decodeYAML(data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err // syntax errors carry their line
	}
	if len(doc.Content) == 0 {
		return nil // an empty file
	}
	var errs []error
	decodeSection(doc.Content[0], reflect.ValueOf(cfg).Elem(), "", &errs)
	return errors.Join(errs...)
}

// isSection reports whether a field is a group of keys rather than a value.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Duration]()
}

func decodeSection(n *yaml.Node, v reflect.Value, prefix string, errs *[]error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "log:" with nothing under it
	}
	if n.Kind != yaml.MappingNode {
		where := strings.TrimSuffix(prefix, ".")
		if where == "" {
			where = "the file"
		}
		*errs = append(*errs, fmt.Errorf("line %d: %s: want keys, such as %s", n.Line, where, strings.Join(sectionKeys(v.Type())[:2], ", ")))
		return
	}
	t := v.Type()
	seen := make(map[string]int, len(n.Content)/2) // key -> line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			// The last would win silently, hiding the first (YAML 1.2
			// section 3.2.1.1: keys are unique).
			*errs = append(*errs, fmt.Errorf("line %d: %s: given again (first on line %d)", k.Line, prefix+k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		idx := -1
		for j := range t.NumField() {
			if t.Field(j).Tag.Get("yaml") == k.Value {
				idx = j
			}
		}
		if idx < 0 {
			msg := fmt.Sprintf("line %d: unknown key %q", k.Line, prefix+k.Value)
			if near := nearest(k.Value, sectionKeys(t)); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", prefix+near)
			}
			*errs = append(*errs, errors.New(msg))
			continue
		}
		key, fv := prefix+k.Value, v.Field(idx)
		if isSection(t.Field(idx).Type) {
			decodeSection(val, fv, key+".", errs)
			continue
		}
		if err := val.Decode(fv.Addr().Interface()); err != nil {
			o := option{key: key, val: fv}
			var te *yaml.TypeError
			if errors.As(err, &te) {
				err = fmt.Errorf("want %s, got %q", map[string]string{"duration": "a duration such as 30s", "size": "a size such as 64KiB",
					"bool": "true or false", "int": "an integer", "list": "a list such as [a, b]", "string": "a string"}[o.typeName()], val.Value)
			}
			if o.secret = t.Field(idx).Tag.Get("secret") == "true"; o.secret {
				err = errors.New("invalid value") // never echo a secret
			}
			*errs = append(*errs, fmt.Errorf("line %d: %s: %v", val.Line, key, strings.TrimPrefix(err.Error(), "yaml: ")))
		}
	}
}

func sectionKeys(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, t.Field(i).Tag.Get("yaml"))
	}
	return keys
}

// nearest returns the candidate closest to s in edit distance, or "" when
// none is close enough to be the likely intent.
func nearest(s string, candidates []string) string {
	best, bestDist := "", max(2, len(s)/3)+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// unknownEnv returns a warning for each GATEWAY_* variable in environ
// ("NAME=value" pairs) that names no option, with the nearest one that
// does: a misspelt variable would otherwise be ignored without a word.
func unknownEnv(environ []string) []string {
	known := []string{"GATEWAY_CONFIG"}
	for _, o := range options(&Config{}) {
		known = append(known, o.env)
	}
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "GATEWAY_") || slices.Contains(known, name) {
			continue
		}
		w := name + " matches no option and is ignored"
		var short []string // compare without the common prefix
		for _, k := range known {
			short = append(short, strings.TrimPrefix(k, "GATEWAY_"))
		}
		if near := nearest(strings.TrimPrefix(name, "GATEWAY_"), short); near != "" {
			w += " (did you mean GATEWAY_" + near + "?)"
		}
		warnings = append(warnings, w)
	}
	return warnings
}

func usage(w io.Writer, fs *flag.FlagSet, opts []option, defaults map[string]string) {
	fmt.Fprintf(w, `Usage: gateway [flags]

Runs the WebSocket gateway. Every option below comes, in order of precedence,
from its flag, its GATEWAY_* environment variable, the -config file, or the
built-in default shown.

`)
	for _, name := range []string{"config", "version", "print-config"} {
		arg, help := flag.UnquoteUsage(fs.Lookup(name))
		fmt.Fprintf(w, "  -%s %s\n    \t%s\n", name, arg, help)
	}
	for _, o := range opts {
		def := defaults[o.key]
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  -%s %s\n    \t%s\n    \t(env %s, default %s)\n", o.flag, o.typeName(), o.help, o.env, def)
	}
}

// printConfig writes the effective configuration as YAML, secrets
// redacted.
func printConfig(w io.Writer, cfg *Config) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	return enc.Encode(redacted(cfg))
}

// redacted returns a copy of cfg in which every secret option that is set
// reads redactedValue and the credentials in nats.url read REDACTED.
func redacted(cfg *Config) *Config {
	c := *cfg
	for _, o := range options(&c) {
		if o.secret && !o.val.IsZero() {
			o.val.SetString(redactedValue)
		}
	}
	c.NATS.URL = nil
	for _, u := range cfg.NATS.URL {
		c.NATS.URL = append(c.NATS.URL, natsbroker.RedactURL(u))
	}
	return &c
}
