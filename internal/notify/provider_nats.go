package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("nats", newNATS) }

// Secret keys of NATS authentication besides username and password, Flux's names.
const (
	natsCredsKey = "creds"
	natsNKeyKey  = "nkey"
)

// natsPublisher publishes each event, JSON-encoded, on a NATS subject, as Flux's nats
// provider: the address is the server URL (or a comma-separated list), the channel the
// subject. It authenticates with, in this order, the user credentials file in the Secret's
// creds key (JWT and NKey), the NKey seed in its nkey key, or username and password. It
// connects for each event, as Flux does. Events only meant for commit statuses are skipped.
type natsPublisher struct {
	servers  string
	subject  string
	creds    []byte
	nkeySeed []byte
	user     string
	password string
	c        Config
}

func newNATS(c Config) (Notifier, error) {
	servers, subject := strings.TrimSpace(c.Address), strings.TrimSpace(c.Channel)
	if servers == "" {
		return nil, Permanent(errors.New("NATS server (address) cannot be empty"))
	}
	if subject == "" {
		return nil, Permanent(errors.New("NATS subject (channel) cannot be empty"))
	}
	n := &natsPublisher{servers: servers, subject: subject, c: c}
	switch {
	case len(c.SecretData[natsCredsKey]) > 0:
		n.creds = c.SecretData[natsCredsKey]
	case len(c.SecretData[natsNKeyKey]) > 0:
		n.nkeySeed = c.SecretData[natsNKeyKey]
		kp, err := nkeys.FromSeed(n.nkeySeed)
		if err != nil {
			return nil, Permanent(errors.New("error parsing nkey seed"))
		}
		kp.Wipe()
	default:
		n.user, n.password = c.BasicUsername, c.BasicPassword
		if n.user == "" {
			n.user = c.Username
		}
	}
	return n, nil
}

// natsContextDialer dials the servers under the Post's context.
type natsContextDialer struct {
	ctx context.Context //nolint:containedctx // nats.go's dialer interface takes none.
	d   net.Dialer
}

func (d *natsContextDialer) Dial(network, address string) (net.Conn, error) {
	return d.d.DialContext(d.ctx, network, address)
}

func (n *natsPublisher) Post(ctx context.Context, e event.Event) error {
	payload, ok, err := forwardedEvent(e, "error json-marshaling event")
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.c.Timeout)
	defer cancel()

	opts := []nats.Option{
		nats.Name("NATS Provider Publisher"),
		nats.Timeout(n.c.Timeout),
		nats.NoReconnect(),
		nats.SetCustomDialer(&natsContextDialer{ctx: ctx}),
	}
	if n.c.TLS != nil {
		opts = append(opts, nats.Secure(n.c.TLS.Clone()))
	}
	switch {
	case n.creds != nil:
		opts = append(opts, nats.UserCredentialBytes(n.creds))
	case n.nkeySeed != nil:
		kp, err := nkeys.FromSeed(n.nkeySeed)
		if err != nil {
			return Permanent(errors.New("error parsing nkey seed"))
		}
		defer kp.Wipe()
		pub, err := kp.PublicKey()
		if err != nil {
			return Permanent(errors.New("error getting public key from nkey"))
		}
		opts = append(opts, nats.Nkey(pub, kp.Sign))
	case n.user != "" && n.password != "":
		opts = append(opts, nats.UserInfo(n.user, n.password))
	}

	nc, err := nats.Connect(n.servers, opts...)
	if err != nil {
		return natsError(fmt.Errorf("error connecting to server %s: %w", redactNATSServers(n.servers), err))
	}
	defer nc.Close()
	if err := nc.Publish(n.subject, payload); err != nil {
		return natsError(fmt.Errorf("error publishing event to subject %s: %w", n.subject, err))
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return natsError(fmt.Errorf("error publishing event to subject %s: %w", n.subject, err))
	}
	if err := nc.LastError(); err != nil {
		return natsError(fmt.Errorf("error publishing event to subject %s: %w", n.subject, err))
	}
	return nil
}

// natsError marks what the server refused as permanent: retrying cannot fix credentials or
// permissions.
func natsError(err error) error {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrPermissionViolation) ||
		errors.Is(err, nats.ErrBadSubject) {
		return Permanent(err)
	}
	return err
}

// redactNATSServers names the servers of a (comma-separated) address without credentials.
func redactNATSServers(servers string) string {
	parts := strings.Split(servers, ",")
	for i, s := range parts {
		parts[i] = redactURL(strings.TrimSpace(s))
	}
	return strings.Join(parts, ",")
}
