package main

import (
	"bytes"
	_ "embed"
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
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
	val  reflect.Value
}

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
				key:  key,
				env:  "GATEWAY_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key)),
				flag: strings.ReplaceAll(key, "_", "-"),
				help: f.Tag.Get("help"),
				val:  v.Field(i),
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

// String renders the current value the way set accepts it.
func (o option) String() string {
	v := o.val
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
	fs.SetOutput(stderr)
	fs.StringVar(&inv.configPath, "config", "", "YAML configuration `file` (env GATEWAY_CONFIG); see the built-in defaults with -print-config")
	fs.BoolVar(&inv.version, "version", false, "print the version and exit")
	fs.BoolVar(&inv.printConfig, "print-config", false, "print the effective configuration as YAML and exit")
	var flagged []recorded
	for _, o := range options(cfg) {
		fs.Var(recordedFlag{opt: o, raw: &flagged, bool: o.val.Kind() == reflect.Bool}, o.flag, o.help)
	}
	fs.Usage = func() { usage(stderr, fs, defaults, defaultText) }
	if err := fs.Parse(args); err != nil {
		return nil, inv, err
	}
	if fs.NArg() > 0 {
		return nil, inv, fmt.Errorf("unexpected argument %q: options are flags (see -h)", fs.Arg(0))
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

// decodeYAML decodes data onto cfg, keeping keys it does not mention and
// refusing keys cfg does not have (a typo must not be ignored silently).
func decodeYAML(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
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

// printConfig writes the effective configuration as YAML.
func printConfig(w io.Writer, cfg *Config) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	return enc.Encode(cfg)
}
