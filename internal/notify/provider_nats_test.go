package notify

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/weirgitops/weir/internal/event"
)

// runNATSServer starts a real NATS server on a random loopback port, with the authentication
// opts sets, and returns its client URL.
func runNATSServer(t *testing.T, opts server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	s, err := server.NewServer(&opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	return s.ClientURL()
}

// natsSubscribe subscribes to subject with the given connection options.
func natsSubscribe(t *testing.T, url, subject string, opts ...nats.Option) *nats.Subscription {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// natsNext waits, with a deadline, for the next message and checks it is e.
func natsNext(t *testing.T, sub *nats.Subscription, e event.Event) {
	t.Helper()
	msg, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no message: %v", err)
	}
	want, _ := json.Marshal(e)
	assertJSON(t, msg.Data, string(want))
}

func TestNATSUserPassword(t *testing.T) {
	url := runNATSServer(t, server.Options{Username: "weir", Password: forgeToken})
	sub := natsSubscribe(t, url, "flux.events", nats.UserInfo("weir", forgeToken))

	c := Config{Type: "nats", Address: url, Channel: "flux.events", BasicUsername: "weir", BasicPassword: forgeToken, Timeout: 5 * time.Second}
	n := mustNotifier(t, c)

	// A commit status update is not published: the next message is the error event.
	update := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	update.Metadata["commit_status"] = "update"
	if err := n.Post(t.Context(), update); err != nil {
		t.Fatalf("Post: %v", err)
	}
	e := forgeEvent(event.SeverityError, "HealthCheckFailed")
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	natsNext(t, sub, e)

	// spec.username stands in for the Secret's username.
	c.BasicUsername, c.Username = "", "weir"
	info := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	if err := mustNotifier(t, c).Post(t.Context(), info); err != nil {
		t.Fatalf("Post: %v", err)
	}
	natsNext(t, sub, info)

	// A wrong password is refused for good, and the error does not quote it.
	c.BasicPassword = "wrong-" + forgeToken
	err := mustNotifier(t, c).Post(t.Context(), e)
	if err == nil || Retryable(err) || strings.Contains(err.Error(), forgeToken) {
		t.Fatalf("wrong password: %v, want a permanent error without the password", err)
	}
}

func TestNATSNKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	url := runNATSServer(t, server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	sub := natsSubscribe(t, url, "flux.>", nats.Nkey(pub, kp.Sign))

	c := Config{Type: "nats", Address: url, Channel: "flux.events", SecretData: map[string][]byte{"nkey": seed}, Timeout: 5 * time.Second}
	e := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	if err := mustNotifier(t, c).Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	natsNext(t, sub, e)

	c.SecretData = map[string][]byte{"nkey": []byte("SUnotaseed")}
	if _, err := New(c); err == nil || Retryable(err) || strings.Contains(err.Error(), "SUnotaseed") {
		t.Fatalf("bad seed: %v, want a permanent error without the seed", err)
	}
}

func TestNATSUnreachableAndConfig(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	n := mustNotifier(t, Config{Type: "nats", Address: "nats://user:pw-secret@" + addr, Channel: "s", Timeout: 2 * time.Second})
	err = n.Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded"))
	if err == nil || !Retryable(err) || strings.Contains(err.Error(), "pw-secret") {
		t.Fatalf("unreachable server: %v, want a retryable error without credentials", err)
	}
	for name, bad := range map[string]Config{"no address": {Channel: "s"}, "no subject": {Address: "nats://127.0.0.1:4222"}} {
		bad.Type = "nats"
		if _, err := New(bad); err == nil || Retryable(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
}
