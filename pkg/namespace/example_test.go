package namespace_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xh-control/gateway/pkg/namespace"
	"go.yaml.in/yaml/v3"
)

func Example() {
	var cfg namespace.Config
	err := yaml.NewDecoder(strings.NewReader(`
namespaces:
  - name: chat
    history_size: 100
    history_ttl: 300s
    allow_user_limited_channels: true
`)).Decode(&cfg)
	if err != nil {
		panic(err)
	}
	rules, err := namespace.New(cfg)
	if err != nil {
		panic(err)
	}
	for _, ch := range []string{"$chat:room#42,43", "game:1", "новости"} {
		opts, ns, err := rules.Resolve(ch)
		switch {
		case errors.Is(err, namespace.ErrUnknownChannel):
			fmt.Println(ch, "-> 102")
		case errors.Is(err, namespace.ErrBadChannel):
			fmt.Println(ch, "-> 107")
		default:
			fmt.Println(ch, "->", ns, opts.HistoryTTL, rules.IsPrivate(ch), rules.IsUserLimited(ch, opts), rules.UserAllowed(ch, "43"))
		}
	}
	// Output:
	// $chat:room#42,43 -> chat 5m0s true true true
	// game:1 -> 102
	// новости -> 107
}
