package notify

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
)

// receiverCase is one request to a Receiver and what validating it must give.
type receiverCase struct {
	name   string
	spec   ReceiverSpec
	header map[string]string
	body   string
	// wantReject is the status of the RejectError expected; 0: accepted.
	wantReject int
	wantIgnore bool
	wantEvent  string
	// wantBody, when set, is the Accepted.Body expected ("null" for nil).
	wantBody string
	// check, when set, checks the Accepted further.
	check func(t *testing.T, a Accepted)
}

// runReceiverCases validates each case's request with typ.
func runReceiverCases(t *testing.T, typ string, cases []receiverCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			spec.Type = typ
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			a, err := ValidateContext(t.Context(), spec, Webhook{Header: h, Body: []byte(tc.body), Method: http.MethodPost})
			if tc.wantReject != 0 {
				var re *RejectError
				if !errors.As(err, &re) {
					t.Fatalf("want a RejectError %d, got %v (accepted %+v)", tc.wantReject, err, a)
				}
				if re.Status != tc.wantReject {
					t.Fatalf("status = %d, want %d (%v)", re.Status, tc.wantReject, err)
				}
				t.Logf("rejected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("unexpected rejection: %v", err)
			}
			if a.Ignore != tc.wantIgnore {
				t.Errorf("Ignore = %v, want %v", a.Ignore, tc.wantIgnore)
			}
			if a.Event != tc.wantEvent {
				t.Errorf("Event = %q, want %q", a.Event, tc.wantEvent)
			}
			if tc.wantBody != "" {
				var want any
				if err := json.Unmarshal([]byte(tc.wantBody), &want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a.Body, want) {
					t.Errorf("Body = %#v, want %#v", a.Body, want)
				}
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

// receiverHMACHex is the lowercase hex HMAC of body keyed with key.
func receiverHMACHex(h func() hash.Hash, key, body string) string {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// receiverTestIssuer serves an OIDC discovery document and a JWKS, and signs RS256 tokens
// with its key.
type receiverTestIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
}

// newReceiverTestIssuer starts an issuer; its URL is its issuer identifier.
func newReceiverTestIssuer(t *testing.T) *receiverTestIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &receiverTestIssuer{key: key, kid: "test-key"}
	mux := http.NewServeMux()
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		receiverWriteJSON(w, map[string]any{
			"issuer":                                iss.srv.URL,
			"jwks_uri":                              iss.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"authorization_endpoint":                iss.srv.URL + "/auth",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		receiverWriteJSON(w, map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": iss.kid,
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	return iss
}

// URL is the issuer identifier.
func (iss *receiverTestIssuer) URL() string { return iss.srv.URL }

// sign returns an RS256 JWT of claims, signed with iss's key.
func (iss *receiverTestIssuer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	return receiverSignJWT(t, iss.key, iss.kid, claims)
}

// receiverSignJWT returns an RS256 JWT of claims signed with key.
func receiverSignJWT(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid}) + "." + enc(claims)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func receiverWriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// TestReceiverTypes pins the receiver types to Flux's v1 Receiver types.
func TestReceiverTypes(t *testing.T) {
	got := ReceiverTypes()
	slices.Sort(got)
	want := []string{"acr", "bitbucket", "cdevents", "dockerhub", "gcr", "generic", "generic-hmac",
		"generic-oidc", "github", "gitlab", "harbor", "nexus", "quay"}
	if !slices.Equal(got, want) {
		t.Fatalf("ReceiverTypes() = %v, want %v", got, want)
	}
	if _, err := Validate(ReceiverSpec{Type: "nope"}, Webhook{}); RejectStatus(err) != http.StatusBadRequest {
		t.Fatalf("unknown type: %v", err)
	}
}
