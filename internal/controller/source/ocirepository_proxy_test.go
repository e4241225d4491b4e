package source_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// forwardProxy is an HTTP forward proxy requiring basic proxy credentials; it counts the
// requests it forwarded.
type forwardProxy struct {
	user, pass string
	forwarded  atomic.Int64
}

func (p *forwardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
	if r.Header.Get("Proxy-Authorization") != want {
		w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
		w.WriteHeader(http.StatusProxyAuthRequired)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.Header.Del("Proxy-Authorization")
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.forwarded.Add(1)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// TestOCIRepositoryProxy pulls through the HTTP proxy of spec.proxySecretRef, with its
// credentials; without them the proxy refuses and the reconcile fails without showing them.
func TestOCIRepositoryProxy(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	proxy := &forwardProxy{user: "proxy-user", pass: "proxy-pass-777"}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	ns := env.Namespace(t)
	reg.PushFiles(t, "app", "v1", map[string]string{"p.yaml": "proxied\n"}, oci.Metadata{})
	createSecret(t, ns, "proxy", map[string][]byte{"address": []byte(srv.URL), "username": []byte("proxy-user"), "password": []byte("proxy-pass-777")})
	createSecret(t, ns, "proxy-nocreds", map[string][]byte{"address": []byte(srv.URL)})

	via := newOCIRepository(ns, "via", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1"})
	via.Spec.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy"}
	via.Spec.Insecure = true
	create(t, via)
	obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: "via"}, metav1.ConditionTrue, nil)
	if got := files(t, fetchStored(t, obj.Status.Artifact))["p.yaml"]; got != "proxied\n" {
		t.Errorf("p.yaml = %q", got)
	}
	if proxy.forwarded.Load() == 0 {
		t.Errorf("the proxy forwarded no request")
	}

	refused := newOCIRepository(ns, "refused", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1"})
	refused.Spec.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy-nocreds"}
	refused.Spec.Insecure = true
	create(t, refused)
	waitOCI(t, client.ObjectKey{Namespace: ns, Name: "refused"}, metav1.ConditionFalse, ociMessageHas("407"))
}
