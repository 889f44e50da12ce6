package broker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
)

type printHandler struct{}

func (printHandler) HandlePublication(ch string, p *broker.Publication, sp broker.StreamPosition) {
	fmt.Printf("delivered %s offset %d %s\n", ch, p.Offset, p.Data)
}
func (printHandler) HandleJoin(ch string, info *broker.ClientInfo)  {}
func (printHandler) HandleLeave(ch string, info *broker.ClientInfo) {}
func (printHandler) HandleControl(data []byte)                      {}

func ExampleNewMemory() {
	ctx := context.Background()
	m := broker.NewMemory(broker.MemoryOptions{NodeID: "node-1"})
	defer m.Close(ctx)
	m.Run(printHandler{})
	m.Subscribe("news")

	opts := broker.PublishOptions{HistorySize: 2, HistoryTTL: time.Minute}
	for _, d := range []string{"a", "b", "c"} {
		m.Publish(ctx, "news", []byte(d), opts)
	}
	pubs, sp, _ := m.History(ctx, "news", broker.HistoryOptions{Limit: -1})
	for _, p := range pubs {
		fmt.Printf("kept offset %d %s\n", p.Offset, p.Data)
	}
	fmt.Println("position", sp.Offset, len(sp.Epoch) > 0)
	// Output:
	// delivered news offset 1 a
	// delivered news offset 2 b
	// delivered news offset 3 c
	// kept offset 2 b
	// kept offset 3 c
	// position 3 true
}
