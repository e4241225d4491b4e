package kustomize_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/getsops/sops/v3/hcvault"
	"github.com/getsops/sops/v3/keys"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/sopsfile"
	"github.com/weirgitops/weir/internal/testenv/vaultserver"
)

// sopsFixture reads a file the sops CLI wrote (internal/build/testdata/sops).
func sopsFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "build", "testdata", "sops", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func keySecret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	return s
}

// waitSecretValue waits until the applied Secret ns/name holds value under stringData key
// (the API server moves it to data).
func waitSecretValue(t *testing.T, ns, name, key, value string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, func() error {
		var s corev1.Secret
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			return err
		}
		if got := string(s.Data[key]); got != value {
			return fmt.Errorf("Secret %s/%s %s = %q, want %q", ns, name, key, got, value)
		}
		return nil
	})
}

func decryption(secret string) func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = k.Namespace
		k.Spec.Decryption = &kustomizev1.Decryption{Provider: "sops"}
		if secret != "" {
			k.Spec.Decryption.SecretRef = &meta.LocalObjectReference{Name: secret}
		}
	}
}

// TestSopsDecryption applies files the sops CLI encrypted, with every key type weir tests for
// real: age, OpenPGP, two key groups, a Shamir threshold, and Vault's transit engine.
func TestSopsDecryption(t *testing.T) {
	t.Run("age, OpenPGP, key groups and Shamir", func(t *testing.T) {
		ns := env.Namespace(t)
		root := gitserver.NewRoot(t)
		files := map[string]string{}
		for _, f := range []string{"secret.age.yaml", "secret.pgp.yaml", "secret.groups.yaml", "secret.shamir.yaml"} {
			dir := strings.TrimSuffix(strings.TrimPrefix(f, "secret."), ".yaml")
			files[dir+"/secret.yaml"] = sopsFixture(t, f)
		}
		root.NewRepo("repo").Commit("main", "encrypted", files)
		srv := root.ServeHTTP(gitserver.HTTPOptions{})
		createAll(t, gitRepository(ns, "repo", srv.RepoURL("repo")),
			keySecret(ns, "age", map[string]string{"age.agekey": sopsFixture(t, "age1.agekey")}),
			keySecret(ns, "pgp", map[string]string{"pgp.asc": sopsFixture(t, "pgp.asc")}),
			keySecret(ns, "both", map[string]string{"age.agekey": sopsFixture(t, "age1.agekey"), "pgp.asc": sopsFixture(t, "pgp.asc")}),
			keySecret(ns, "shares", map[string]string{"age1.agekey": sopsFixture(t, "age1.agekey"), "age2.agekey": sopsFixture(t, "age2.agekey")}),
		)
		cases := []struct{ ks, dir, secret string }{
			{"age", "age", "age"}, {"pgp", "pgp", "pgp"}, {"groups", "groups", "both"}, {"shamir", "shamir", "shares"},
		}
		for _, c := range cases {
			createAll(t, kustomization(ns, c.ks, "./"+c.dir, decryption(c.secret), func(k *kustomizev1.Kustomization) {
				k.Spec.NamePrefix = c.ks + "-"
			}))
		}
		for _, c := range cases {
			waitKustomization(t, client.ObjectKey{Namespace: ns, Name: c.ks}, metav1.ConditionTrue, time.Minute, nil)
			waitSecretValue(t, ns, c.ks+"-db", "password", "s3cr3t-p4ss")
			waitSecretValue(t, ns, c.ks+"-db", "config.yaml", "host: db.internal\ntls: true\n")
		}
	})

	t.Run("a missing key group share fails and keeps the last applied state", func(t *testing.T) {
		ns := env.Namespace(t)
		root := gitserver.NewRoot(t)
		repo := root.NewRepo("repo")
		repo.Commit("main", "age", map[string]string{"app/secret.yaml": sopsFixture(t, "secret.age.yaml")})
		srv := root.ServeHTTP(gitserver.HTTPOptions{})
		createAll(t, gitRepository(ns, "repo", srv.RepoURL("repo")),
			keySecret(ns, "keys", map[string]string{"age.agekey": sopsFixture(t, "age1.agekey")}),
			kustomization(ns, "app", "./app", decryption("keys")))
		key := client.ObjectKey{Namespace: ns, Name: "app"}
		waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil)
		waitSecretValue(t, ns, "db", "password", "s3cr3t-p4ss")

		// The Shamir file needs two of three shares; the Secret holds one.
		repo.Commit("main", "shamir", map[string]string{"app/secret.yaml": sopsFixture(t, "secret.shamir.yaml")})
		env.RequestReconcile(t, gitRepository(ns, "repo", ""))
		c := readyCondition(t, key, "BuildFailed", time.Minute)
		for _, want := range []string{"Secret/" + ns + "/db", "cannot get sops data key", "no matching key"} {
			if !strings.Contains(c.Message, want) {
				t.Errorf("Ready message %q does not contain %q", c.Message, want)
			}
		}
		if strings.Contains(c.Message, "s3cr3t") {
			t.Errorf("Ready message leaks the secret: %q", c.Message)
		}
		waitSecretValue(t, ns, "db", "password", "s3cr3t-p4ss")
	})

	t.Run("Vault transit with the Secret's token", func(t *testing.T) {
		vault := vaultserver.Start(t)
		ns := env.Namespace(t)
		root := gitserver.NewRoot(t)
		root.NewRepo("repo").Commit("main", "vault", map[string]string{"app/secret.yaml": encryptForVault(t, vault)})
		srv := root.ServeHTTP(gitserver.HTTPOptions{})
		createAll(t, gitRepository(ns, "repo", srv.RepoURL("repo")),
			keySecret(ns, "vault", map[string]string{"sops.vault-token": vault.Token}),
			kustomization(ns, "app", "./app", decryption("vault")))
		waitKustomization(t, client.ObjectKey{Namespace: ns, Name: "app"}, metav1.ConditionTrue, time.Minute, nil)
		waitSecretValue(t, ns, "vaulted", "token", "v4ult-s3cr3t")
		if vault.Decrypts() == 0 {
			t.Error("the Vault stand-in decrypted nothing")
		}
	})

	t.Run("serviceAccountName needs the ObjectLevelWorkloadIdentity gate", func(t *testing.T) {
		ns := env.Namespace(t)
		root := gitserver.NewRoot(t)
		root.NewRepo("repo").Commit("main", "age", map[string]string{"app/secret.yaml": sopsFixture(t, "secret.age.yaml")})
		srv := root.ServeHTTP(gitserver.HTTPOptions{})
		createAll(t, gitRepository(ns, "repo", srv.RepoURL("repo")),
			kustomization(ns, "app", "./app", decryption(""), func(k *kustomizev1.Kustomization) {
				k.Spec.Decryption.ServiceAccountName = "decrypter"
			}))
		key := client.ObjectKey{Namespace: ns, Name: "app"}
		c := readyCondition(t, key, "BuildFailed", time.Minute)
		if want := "to use spec.decryption.serviceAccountName for decryption authentication please enable the ObjectLevelWorkloadIdentity feature gate in the controller"; !strings.Contains(c.Message, want) {
			t.Errorf("Ready message %q, want %q", c.Message, want)
		}
		var ks kustomizev1.Kustomization
		if err := env.Client.Get(t.Context(), key, &ks); err != nil {
			t.Fatal(err)
		}
		if s := apimeta.FindStatusCondition(ks.Status.Conditions, "Stalled"); s == nil || s.Status != metav1.ConditionTrue {
			t.Errorf("Stalled = %+v, want True: the user must change the object", s)
		}
	})
}

// encryptForVault returns a Secret manifest encrypted by SOPS for the stand-in's transit key.
func encryptForVault(t *testing.T, vault *vaultserver.Server) string {
	t.Helper()
	// SOPS' encrypting key service reads the token from the environment, as the sops CLI.
	t.Setenv("VAULT_TOKEN", vault.Token)
	plain := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: vaulted\nstringData:\n  token: v4ult-s3cr3t\n"
	out := sopsfile.Encrypt(t, []byte(plain), sopsfile.YAML, sopsfile.Options{EncryptedRegex: "^(data|stringData)$"},
		[]keys.MasterKey{hcvault.NewMasterKey(vault.URL, "sops", "weir")})
	// The controller must not find it there.
	if err := os.Unsetenv("VAULT_TOKEN"); err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestSopsControllerFlags runs managers with kustomize-controller's decryption flags:
// --sops-age-secret, and object-level workload identity logging in to Vault with a
// ServiceAccount token (--sops-vault-configmap).
func TestSopsControllerFlags(t *testing.T) {
	t.Run("--sops-age-secret decrypts for Kustomizations without a secretRef", func(t *testing.T) {
		runtimeNS := manager.RuntimeNamespace()
		ensureNamespace(t, runtimeNS)
		const ageSecret = "weir-test-sops-age"
		createAll(t, keySecret(runtimeNS, ageSecret, map[string]string{"global.agekey": sopsFixture(t, "age1.agekey")}))
		t.Cleanup(func() { _ = env.Client.Delete(t.Context(), keySecret(runtimeNS, ageSecret, nil)) })
		label := withOptions(t, func(o *manager.Options) { o.SopsAgeSecret = ageSecret })
		ns := env.Namespace(t)
		root := gitserver.NewRoot(t)
		root.NewRepo("repo").Commit("main", "age", map[string]string{"app/secret.yaml": sopsFixture(t, "secret.age.yaml")})
		srv := root.ServeHTTP(gitserver.HTTPOptions{})
		createAll(t, label(gitRepository(ns, "repo", srv.RepoURL("repo"))), label(kustomization(ns, "app", "./app", decryption(""))))
		waitKustomization(t, client.ObjectKey{Namespace: ns, Name: "app"}, metav1.ConditionTrue, time.Minute, nil)
		waitSecretValue(t, ns, "db", "password", "s3cr3t-p4ss")
	})

	t.Run("serviceAccountName logs in to Vault with the ServiceAccount's token", func(t *testing.T) {
		vault := vaultserver.Start(t)
		ns := env.Namespace(t)
		var logins atomic.Int32
		vault.AcceptLogins(func(path, role, jwt string) bool {
			sub, aud := jwtClaims(jwt)
			ok := path == "auth/kubernetes/login" && role == ns+"_decrypter" &&
				sub == "system:serviceaccount:"+ns+":decrypter" && slices.Contains(aud, vault.URL)
			if ok {
				logins.Add(1)
			}
			return ok
		})
		runtimeNS := manager.RuntimeNamespace()
		ensureNamespace(t, runtimeNS)
		cmName := "weir-test-vault-" + ns
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: runtimeNS, Name: cmName},
			Data: map[string]string{"config.yaml": fmt.Sprintf("instances:\n- address: %s\n  loginPath: auth/kubernetes/login\n", vault.URL)}}
		createAll(t, cm)
		t.Cleanup(func() { _ = env.Client.Delete(t.Context(), cm) })
		label := withOptions(t, func(o *manager.Options) {
			o.FeatureGates = "ObjectLevelWorkloadIdentity=true"
			o.SopsVaultConfigMap = cmName
		})
		root := gitserver.NewRoot(t)
		root.NewRepo("repo").Commit("main", "vault", map[string]string{"app/secret.yaml": encryptForVault(t, vault)})
		srv := root.ServeHTTP(gitserver.HTTPOptions{})
		key := client.ObjectKey{Namespace: ns, Name: "app"}
		createAll(t, label(gitRepository(ns, "repo", srv.RepoURL("repo"))), label(kustomization(ns, "app", "./app", decryption(""),
			func(k *kustomizev1.Kustomization) { k.Spec.Decryption.ServiceAccountName = "decrypter" })))

		// No ServiceAccount yet: a precise failure.
		c := readyCondition(t, key, "BuildFailed", time.Minute)
		if want := "ServiceAccount '" + ns + "/decrypter' not found"; !strings.Contains(c.Message, want) {
			t.Errorf("Ready message %q, want %q", c.Message, want)
		}
		createAll(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "decrypter"}})
		env.RequestReconcile(t, kustomization(ns, "app", ""))
		waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil)
		waitSecretValue(t, ns, "vaulted", "token", "v4ult-s3cr3t")
		if logins.Load() == 0 {
			t.Fatal("no login reached the Vault stand-in")
		}
	})
}

// jwtClaims reads a token's subject and audiences (the stand-in trusts the API server that
// issued it, as Vault's kubernetes auth does through a TokenReview).
func jwtClaims(jwt string) (sub string, aud []string) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", nil
	}
	var claims struct {
		Sub string   `json:"sub"`
		Aud []string `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", nil
	}
	return claims.Sub, claims.Aud
}
