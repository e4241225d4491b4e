package registryauth

import (
	"context"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/secretdata"
	"github.com/weirgitops/weir/internal/source/oci"
)

// Spec is the part of an object's spec that says how to reach its registry.
type Spec struct {
	// Namespace is the object's namespace, where its Secrets and service account are.
	Namespace          string
	SecretRef          *meta.LocalObjectReference
	ServiceAccountName string
	CertSecretRef      *meta.LocalObjectReference
	ProxySecretRef     *meta.LocalObjectReference
	Insecure           bool
	UserAgent          string
}

// Options reads spec's Secrets into registry options and checks that they make a transport.
func Options(ctx context.Context, c client.Reader, spec Spec) (oci.Options, error) {
	opts := oci.Options{Insecure: spec.Insecure, UserAgent: spec.UserAgent}
	keys, err := PullSecrets(ctx, c, spec.Namespace, spec.SecretRef, spec.ServiceAccountName)
	if err != nil {
		return opts, err
	}
	if len(keys) > 0 {
		opts.Keychain = keys
	}
	tlsOpts, err := CertOptions(ctx, c, spec.Namespace, spec.CertSecretRef)
	if err != nil {
		return opts, err
	}
	opts.CACert, opts.ClientCert, opts.ClientKey = tlsOpts.CACert, tlsOpts.ClientCert, tlsOpts.ClientKey
	if spec.ProxySecretRef != nil {
		if opts.Proxy, err = ProxyURL(ctx, c, spec.Namespace, spec.ProxySecretRef.Name); err != nil {
			return opts, err
		}
	}
	if _, err := opts.Transport(); err != nil {
		return opts, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to generate transport: %w", err))
	}
	return opts, nil
}

// getSecret reads a Secret of a namespace with a message that names it.
func getSecret(ctx context.Context, c client.Reader, namespace, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret '%s/%s' not found", namespace, name)
		}
		return nil, fmt.Errorf("get secret '%s/%s': %w", namespace, name, err)
	}
	return &s, nil
}

// PullSecrets reads a Docker config Secret and a service account's image pull Secrets into
// one keychain; the explicit Secret wins for a registry both name.
func PullSecrets(ctx context.Context, c client.Reader, namespace string, ref *meta.LocalObjectReference, serviceAccount string) (oci.Keychain, error) {
	keys := oci.Keychain{}
	var names []string
	if ref != nil && ref.Name != "" {
		names = append(names, ref.Name)
	}
	if serviceAccount != "" {
		var sa corev1.ServiceAccount
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: serviceAccount}, &sa); err != nil {
			return nil, reconcile.Failed(compat.AuthenticationFailedReason,
				fmt.Errorf("failed to get credential: failed to get service account '%s/%s': %w", namespace, serviceAccount, err))
		}
		for _, s := range sa.ImagePullSecrets {
			names = append(names, s.Name)
		}
	}
	for _, n := range names {
		s, err := getSecret(ctx, c, namespace, n)
		if err != nil {
			return nil, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get credential: %w", err))
		}
		data := s.Data[corev1.DockerConfigJsonKey]
		if len(data) == 0 {
			data = s.Data[corev1.DockerConfigKey]
		}
		if len(data) == 0 {
			return nil, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf(
				"failed to get credential: secret '%s/%s' has no '%s'", namespace, n, corev1.DockerConfigJsonKey))
		}
		k, err := oci.ParseDockerConfig(data)
		if err != nil {
			return nil, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get credential: secret '%s/%s': %w", namespace, n, err))
		}
		keys.Merge(k)
	}
	return keys, nil
}

// CertOptions reads a TLS Secret: ca.crt, and tls.crt with tls.key (the legacy caFile,
// certFile, keyFile names too).
func CertOptions(ctx context.Context, c client.Reader, namespace string, ref *meta.LocalObjectReference) (oci.Options, error) {
	var o oci.Options
	if ref == nil || ref.Name == "" {
		return o, nil
	}
	s, err := getSecret(ctx, c, namespace, ref.Name)
	if err != nil {
		return o, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get TLS config: %w", err))
	}
	o.CACert = secretdata.First(s.Data, "ca.crt", "caFile")
	o.ClientCert = secretdata.First(s.Data, "tls.crt", "certFile")
	o.ClientKey = secretdata.First(s.Data, "tls.key", "keyFile")
	return o, nil
}

// ProxyURL reads a proxy Secret (address, username, password) into a proxy URL.
func ProxyURL(ctx context.Context, c client.Reader, namespace, name string) (string, error) {
	s, err := getSecret(ctx, c, namespace, name)
	if err != nil {
		return "", reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get proxy address: %w", err))
	}
	addr, err := secretdata.ProxyURL(s.Data)
	if err != nil {
		return "", reconcile.Failed(compat.AuthenticationFailedReason,
			fmt.Errorf("failed to get proxy address: secret '%s/%s': %w", namespace, name, err))
	}
	return addr, nil
}
