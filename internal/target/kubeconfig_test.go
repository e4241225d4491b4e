package target

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeconfig is a one-context kubeconfig with the given cluster and user fields.
func kubeconfig(cluster, user string) string {
	return `apiVersion: v1
kind: Config
clusters:
- name: remote
  cluster:
    server: https://remote.example:6443
` + cluster + `
users:
- name: tenant
  user:
` + user + `
contexts:
- name: ctx
  context: {cluster: remote, user: tenant}
current-context: ctx
`
}

func TestKubeConfigPolicy(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "remote"}}
	const token = "    token: abc\n"
	tests := []struct {
		name   string
		data   string
		policy KubeConfigPolicy
		want   string // empty: accepted
	}{
		{name: "inline token", data: kubeconfig("    certificate-authority-data: "+caData, token)},
		{name: "exec plugin", data: kubeconfig("", "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, 'cat /etc/shadow']}\n"),
			want: "kubeconfig from Secret 'apps/remote': user 'tenant' runs an exec plugin, refused unless the controller runs with --insecure-kubeconfig-exec"},
		{name: "exec plugin allowed", data: kubeconfig("", "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true, interactiveMode: Never}\n"), policy: KubeConfigPolicy{AllowExec: true}},
		{name: "insecure TLS", data: kubeconfig("    insecure-skip-tls-verify: true", token),
			want: "cluster 'remote' disables TLS verification (insecure-skip-tls-verify), refused unless the controller runs with --insecure-kubeconfig-tls"},
		{name: "insecure TLS allowed", data: kubeconfig("    insecure-skip-tls-verify: true", token), policy: KubeConfigPolicy{AllowInsecureTLS: true}},
		{name: "token file", data: kubeconfig("", "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n"),
			want: "user 'tenant' references a tokenFile; only an inline token is accepted"},
		{name: "client certificate file", data: kubeconfig("", "    client-certificate: /etc/kubernetes/pki/admin.crt\n"),
			want: "user 'tenant' references a client-certificate file"},
		{name: "client key file", data: kubeconfig("", "    client-key: /etc/kubernetes/pki/admin.key\n"),
			want: "user 'tenant' references a client-key file"},
		{name: "CA file", data: kubeconfig("    certificate-authority: /etc/ssl/ca.pem", token),
			want: "cluster 'remote' references a certificate-authority file"},
		{name: "auth provider", data: kubeconfig("", "    auth-provider: {name: oidc, config: {idp-issuer-url: https://issuer.example}}\n"),
			want: "user 'tenant' uses the auth-provider plugin 'oidc'"},
		{name: "not a kubeconfig", data: "clusters: 12", want: "kubeconfig from Secret 'apps/remote'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.policy.parse([]byte(tt.data), secret)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if cfg.Host != "https://remote.example:6443" {
					t.Fatalf("host %q", cfg.Host)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// caData is a base64 placeholder: parsing does not check it is a certificate.
const caData = "Y2E="
