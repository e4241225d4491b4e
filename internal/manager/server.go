package manager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// httpServer runs an HTTP server as a Manager runnable on every replica (not only the
// leader), shut down gracefully with the Manager.
func httpServer(name, addr string, h http.Handler) manager.Runnable {
	return serverRunnable{name: name, addr: addr, handler: h}
}

type serverRunnable struct {
	name    string
	addr    string
	handler http.Handler
}

func (s serverRunnable) NeedLeaderElection() bool { return false }

func (s serverRunnable) Start(ctx context.Context) error {
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", s.name, s.addr, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("%s: %w", s.name, err)
	}
}

// advertisedAddr is the host[:port] written into status.artifact.url: --storage-adv-addr, else
// the in-cluster Service name when running in a Pod, else the storage address on localhost.
func advertisedAddr(o Options) string {
	if o.StorageAdvAddr != "" {
		return o.StorageAdvAddr
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" && os.Getenv("RUNTIME_NAMESPACE") != "" {
		return "weir." + os.Getenv("RUNTIME_NAMESPACE") + ".svc.cluster.local."
	}
	host, port, err := net.SplitHostPort(o.StorageAddr)
	if err != nil {
		return o.StorageAddr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
