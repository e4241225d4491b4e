package target

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeConfigPolicy says what a kubeconfig read from a Secret may hold beyond inline
// credentials. Whoever can write such a Secret chooses what the controller process does with
// it: an exec plugin runs any command in the controller's container, a file reference reads
// the controller's own files (its ServiceAccount token included) and sends them to a server
// of the writer's choosing, and a disabled TLS check hands the credentials to whoever answers.
type KubeConfigPolicy struct {
	// AllowExec lets users run exec plugins (--insecure-kubeconfig-exec).
	AllowExec bool
	// AllowInsecureTLS lets clusters disable TLS verification (--insecure-kubeconfig-tls).
	AllowInsecureTLS bool
}

// parse is the configuration of a kubeconfig read from secret, refused when any cluster or
// user of it (not only the current context's) references a local file, runs an exec plugin or
// disables TLS verification without the policy allowing it, or uses an auth-provider plugin.
func (p KubeConfigPolicy) parse(data []byte, secret *corev1.Secret) (*rest.Config, error) {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("kubeconfig from Secret '%s/%s': %s", secret.Namespace, secret.Name, fmt.Sprintf(format, args...))
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if err := p.check(cfg); err != nil {
		return nil, refuse("%v", err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, refuse("%v", err)
	}
	return rc, nil
}

// check applies the policy to every cluster and user of cfg, in name order.
func (p KubeConfigPolicy) check(cfg *clientcmdapi.Config) error {
	for _, name := range sortedKeys(cfg.Clusters) {
		c := cfg.Clusters[name]
		switch {
		case c == nil:
			return fmt.Errorf("cluster '%s' is empty", name)
		case c.CertificateAuthority != "":
			return fmt.Errorf("cluster '%s' references a certificate-authority file; only certificate-authority-data is accepted", name)
		case c.InsecureSkipTLSVerify && !p.AllowInsecureTLS:
			return fmt.Errorf("cluster '%s' disables TLS verification (insecure-skip-tls-verify), refused unless the controller runs with --insecure-kubeconfig-tls", name)
		}
	}
	for _, name := range sortedKeys(cfg.AuthInfos) {
		u := cfg.AuthInfos[name]
		switch {
		case u == nil:
			return fmt.Errorf("user '%s' is empty", name)
		case u.TokenFile != "":
			return fmt.Errorf("user '%s' references a tokenFile; only an inline token is accepted", name)
		case u.ClientCertificate != "":
			return fmt.Errorf("user '%s' references a client-certificate file; only client-certificate-data is accepted", name)
		case u.ClientKey != "":
			return fmt.Errorf("user '%s' references a client-key file; only client-key-data is accepted", name)
		case u.AuthProvider != nil:
			return fmt.Errorf("user '%s' uses the auth-provider plugin '%s', which weir does not run", name, u.AuthProvider.Name)
		case u.Exec != nil && !p.AllowExec:
			return fmt.Errorf("user '%s' runs an exec plugin, refused unless the controller runs with --insecure-kubeconfig-exec", name)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
