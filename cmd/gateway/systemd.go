package main

import (
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/poller"
)

// notifier speaks systemd's sd_notify protocol when the gateway runs as a
// Type=notify service (NOTIFY_SOCKET is set); otherwise it does nothing.
type notifier struct{ log *zap.Logger }

func (n notifier) send(state string) {
	if ok, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("sd_notify failed", zap.String("state", state), zap.Error(err))
	} else if ok {
		n.log.Debug("sd_notify", zap.String("state", state))
	}
}

// ready tells systemd the gateway listens, so that units ordered after it
// start only then.
func (n notifier) ready(addr string) {
	n.send("READY=1\nSTATUS=serving WebSocket clients on " + addr)
}

func (n notifier) reloading() { n.send("RELOADING=1") }

func (n notifier) reloaded() { n.send("READY=1\nSTATUS=configuration reloaded") }

func (n notifier) stopping() { n.send("STOPPING=1\nSTATUS=draining: closing sessions with 1001") }

// watchdog pets systemd's watchdog at half of WatchdogSec, but only while
// the server's ticker, which drives every timeout, keeps running: a wedged
// gateway is then restarted by systemd.
func (n notifier) watchdog(srv *poller.Server, stop <-chan struct{}) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if srv.Healthy() {
				n.send("WATCHDOG=1")
			} else {
				n.log.Error("not petting the watchdog: the server's ticker stopped")
			}
		}
	}
}
