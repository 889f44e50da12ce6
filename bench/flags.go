package main

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// atLeast reads the minimum a flag's help states ("... (at least 40)"), so
// that the help and the check cannot disagree.
var atLeast = regexp.MustCompile(`at least (\d+)`)

// checkFlags rejects, before any connection is made, what no scenario can
// run with: a stray word (flag parsing stops there and would silently drop
// every flag after it), a negative count or size, a size under the minimum
// its help states, a count of connections, clients or publishers under 1,
// and a duration, period or timeout that is not positive. Combinations of
// flags are each scenario's check.
func checkFlags(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: every word after the scenario must be a flag or a flag's value", fs.Arg(0))
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok {
			return
		}
		switch v := g.Get().(type) {
		case int:
			least := 0
			switch f.Name {
			case "part", "parts":
				return // internal
			case "c", "n", "pubs", "max-conns-per-process", "slow-size", "slow-burst":
				least = 1
			}
			if m := atLeast.FindStringSubmatch(f.Usage); m != nil {
				least, _ = strconv.Atoi(m[1])
			}
			if v < least {
				errs = append(errs, fmt.Errorf("-%s %d: want at least %d", f.Name, v, least))
			}
		case float64:
			if v < 0 || v == 0 && f.Name == "dial-rate" {
				errs = append(errs, fmt.Errorf("-%s %v: must be positive", f.Name, v))
			}
		case time.Duration:
			// -duration 0 with -rate 0 is bench channels' idle-memory run.
			zeroOK := f.Name == "hold" || f.Name == "settle" || f.Name == "duration" && isZero(fs.Lookup("rate"))
			if v < 0 || v == 0 && !zeroOK {
				errs = append(errs, fmt.Errorf("-%s %v: must be positive", f.Name, v))
			}
		}
	})
	return errors.Join(errs...)
}

// isZero reports whether f is set to a numeric zero.
func isZero(f *flag.Flag) bool {
	if f == nil {
		return false
	}
	v, ok := f.Value.(flag.Getter).Get().(float64)
	return ok && v == 0
}
