package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/azkv"
	"github.com/getsops/sops/v3/gcpkms"
	"github.com/getsops/sops/v3/hcvault"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/kms"
	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"sigs.k8s.io/yaml"
)

// Entries of a decryption Secret, as Flux reads them.
const (
	// AgeKeySuffix marks an age identity file entry.
	AgeKeySuffix = ".agekey"
	// PGPKeySuffix marks an armored OpenPGP private key ring entry.
	PGPKeySuffix = ".asc"
	// VaultTokenKey holds a HashiCorp Vault (or OpenBao) token.
	VaultTokenKey = "sops.vault-token"
	// AWSKMSKey holds static AWS credentials (YAML: aws_access_key_id,
	// aws_secret_access_key, aws_session_token).
	AWSKMSKey = "sops.aws-kms"
	// AzureKVKey holds Azure credentials (JSON or YAML: a service principal
	// with a secret or a certificate, a managed identity, or `az ad sp
	// create-for-rbac` output).
	AzureKVKey = "sops.azure-kv"
	// GCPKMSKey holds a GCP service account (or external account) JSON key.
	GCPKMSKey = "sops.gcp-kms"
)

// Keys are the key material and credentials a Decryptor offers SOPS' key
// sources. A key type without material here is tried as `sops` would try it
// in the controller's own environment (SOPS_AGE_KEY_FILE, VAULT_TOKEN, the
// cloud SDKs' default credentials), as Flux does.
type Keys struct {
	// Age are age identities (X25519, post-quantum hybrid, SSH).
	Age sopsage.ParsedIdentities
	// PGP are OpenPGP private keys.
	PGP openpgp.EntityList
	// VaultToken authenticates to any Vault server a file names.
	VaultToken string
	// VaultLogin, when set and VaultToken is empty, returns a Vault token
	// for the server at an address (Kubernetes auth).
	VaultLogin func(ctx context.Context, address string) (string, error)
	// VaultHTTPClient, when set, is the HTTP client of Vault requests.
	VaultHTTPClient *http.Client
	// AWS, when set, returns the credentials for AWS KMS in a region.
	AWS func(region string) aws.CredentialsProvider
	// Azure, when set, authenticates to Azure Key Vault.
	Azure azcore.TokenCredential
	// GCPCredentialsJSON, when set, authenticates to GCP KMS.
	GCPCredentialsJSON []byte
	// GCP, when set and GCPCredentialsJSON is not, authenticates to GCP KMS.
	GCP oauth2.TokenSource
}

// ParseKeys imports the entries of a decryption Secret's data: names ending
// in .agekey hold age identities, names ending in .asc armored OpenPGP key
// rings; sops.vault-token, sops.aws-kms, sops.azure-kv and sops.gcp-kms hold
// credentials of those key services. Other entries are ignored. Errors name
// the entry and never include key material.
func ParseKeys(data map[string][]byte) (*Keys, error) {
	k := &Keys{}
	names := make([]string, 0, len(data))
	for name := range data {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		value := data[name]
		var err error
		switch {
		case filepath.Ext(name) == AgeKeySuffix:
			err = k.ImportAge(value)
		case filepath.Ext(name) == PGPKeySuffix:
			ring, perr := openpgp.ReadArmoredKeyRing(bytes.NewReader(value))
			if perr != nil {
				err = errors.New("invalid armored OpenPGP key ring")
			}
			k.PGP = append(k.PGP, ring...)
		case name == VaultTokenKey:
			k.VaultToken = strings.TrimSpace(string(value))
		case name == AWSKMSKey:
			var cp aws.CredentialsProvider
			if cp, err = awsStaticCredentials(value); err == nil {
				k.AWS = func(string) aws.CredentialsProvider { return cp }
			}
		case name == AzureKVKey:
			k.Azure, err = azureCredential(value)
		case name == GCPKMSKey:
			var probe map[string]any
			if json.Unmarshal(bytes.TrimSpace(value), &probe) != nil || probe["type"] == nil {
				err = errors.New("not a Google credentials JSON file")
			}
			k.GCPCredentialsJSON = bytes.TrimSpace(value)
		}
		if err != nil {
			return nil, fmt.Errorf("failed to import '%s' data: %w", name, err)
		}
	}
	return k, nil
}

// ImportAge adds the age identities of an identity file.
func (k *Keys) ImportAge(value []byte) error {
	if err := k.Age.Import(string(value)); err != nil {
		return errors.New("invalid age identity file")
	}
	return nil
}

// awsStaticCredentials reads Flux's sops.aws-kms YAML.
func awsStaticCredentials(data []byte) (aws.CredentialsProvider, error) {
	var c struct {
		AccessKeyID     string `json:"aws_access_key_id"`
		SecretAccessKey string `json:"aws_secret_access_key"`
		SessionToken    string `json:"aws_session_token"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, errors.New("invalid YAML")
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return nil, errors.New("aws_access_key_id and aws_secret_access_key are required")
	}
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken), nil
}

// azureConfig is the sops.azure-kv document: a service principal with a
// secret or a certificate, a managed identity, or `az` CLI output.
type azureConfig struct {
	TenantID                  string `json:"tenantId"`
	ClientID                  string `json:"clientId"`
	ClientSecret              string `json:"clientSecret"`
	ClientCertificate         string `json:"clientCertificate"`
	ClientCertificatePassword string `json:"clientCertificatePassword"`
	ClientCertificateChain    bool   `json:"clientCertificateSendChain"`
	AuthorityHost             string `json:"authorityHost"`
	// az ad sp create-for-rbac output.
	AppID    string `json:"appId"`
	Password string `json:"password"`
	Tenant   string `json:"tenant"`
}

// azureCredential reads Flux's sops.azure-kv document into a credential.
func azureCredential(data []byte) (azcore.TokenCredential, error) {
	var c azureConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, errors.New("invalid JSON or YAML")
	}
	if c.AppID != "" {
		c.ClientID, c.ClientSecret, c.TenantID = c.AppID, c.Password, c.Tenant
	}
	var opts azcore.ClientOptions
	if c.AuthorityHost != "" {
		opts.Cloud.ActiveDirectoryAuthorityHost = c.AuthorityHost
	}
	switch {
	case c.TenantID != "" && c.ClientID != "" && c.ClientSecret != "":
		return azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
	case c.TenantID != "" && c.ClientID != "" && c.ClientCertificate != "":
		certs, key, err := azidentity.ParseCertificates([]byte(c.ClientCertificate), []byte(c.ClientCertificatePassword))
		if err != nil {
			return nil, errors.New("invalid clientCertificate")
		}
		return azidentity.NewClientCertificateCredential(c.TenantID, c.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, SendCertificateChain: c.ClientCertificateChain})
	case c.ClientID != "" && c.TenantID == "":
		return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ClientOptions: opts, ID: azidentity.ClientID(c.ClientID)})
	}
	return nil, errors.New("expected tenantId, clientId and clientSecret or clientCertificate, or clientId of a managed identity")
}

// keyService is SOPS' key service for one decryption: it recovers data keys
// with Keys, and falls back to SOPS' own local service (the controller's
// environment) for key types Keys has nothing for.
type keyService struct {
	ctx  context.Context
	keys *Keys
}

var _ keyservice.KeyServiceClient = (*keyService)(nil)

// Encrypt is refused: weir only decrypts.
func (s *keyService) Encrypt(context.Context, *keyservice.EncryptRequest, ...grpc.CallOption) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("encryption is not supported")
}

// Decrypt recovers a data key (or Shamir part) from one master key.
func (s *keyService) Decrypt(_ context.Context, req *keyservice.DecryptRequest, _ ...grpc.CallOption) (*keyservice.DecryptResponse, error) {
	ctx, k := s.ctx, s.keys
	var plain []byte
	var err error
	switch key := req.GetKey().GetKeyType().(type) {
	case *keyservice.Key_AgeKey:
		if len(k.Age) == 0 {
			return fallback(ctx, req)
		}
		mk := &sopsage.MasterKey{Recipient: key.AgeKey.Recipient, EncryptedKey: string(req.Ciphertext)}
		k.Age.ApplyToMasterKey(mk)
		plain, err = mk.Decrypt()
	case *keyservice.Key_PgpKey:
		if len(k.PGP) == 0 {
			return fallback(ctx, req)
		}
		plain, err = decryptPGP(k.PGP, req.Ciphertext)
	case *keyservice.Key_VaultKey:
		token := k.VaultToken
		if token == "" && k.VaultLogin != nil {
			if token, err = k.VaultLogin(ctx, key.VaultKey.VaultAddress); err != nil {
				return nil, err
			}
		}
		if token == "" {
			return fallback(ctx, req)
		}
		mk := &hcvault.MasterKey{VaultAddress: key.VaultKey.VaultAddress, EnginePath: key.VaultKey.EnginePath,
			KeyName: key.VaultKey.KeyName, EncryptedKey: string(req.Ciphertext)}
		hcvault.Token(token).ApplyToMasterKey(mk)
		if k.VaultHTTPClient != nil {
			hcvault.NewHTTPClient(k.VaultHTTPClient).ApplyToMasterKey(mk)
		}
		plain, err = mk.DecryptContext(ctx)
	case *keyservice.Key_KmsKey:
		if k.AWS == nil {
			return fallback(ctx, req)
		}
		mk := &kms.MasterKey{Arn: key.KmsKey.Arn, Role: key.KmsKey.Role, AwsProfile: key.KmsKey.AwsProfile,
			EncryptedKey: string(req.Ciphertext), EncryptionContext: map[string]*string{}}
		for name, v := range key.KmsKey.Context {
			mk.EncryptionContext[name] = &v
		}
		kms.NewCredentialsProvider(k.AWS(arnRegion(key.KmsKey.Arn))).ApplyToMasterKey(mk)
		plain, err = mk.DecryptContext(ctx)
	case *keyservice.Key_GcpKmsKey:
		mk := &gcpkms.MasterKey{ResourceID: key.GcpKmsKey.ResourceId, EncryptedKey: string(req.Ciphertext)}
		switch {
		case k.GCPCredentialsJSON != nil:
			gcpkms.CredentialJSON(k.GCPCredentialsJSON).ApplyToMasterKey(mk)
		case k.GCP != nil:
			gcpkms.NewTokenSource(k.GCP).ApplyToMasterKey(mk)
		default:
			return fallback(ctx, req)
		}
		plain, err = mk.DecryptContext(ctx)
	case *keyservice.Key_AzureKeyvaultKey:
		if k.Azure == nil {
			return fallback(ctx, req)
		}
		mk := &azkv.MasterKey{VaultURL: key.AzureKeyvaultKey.VaultUrl, Name: key.AzureKeyvaultKey.Name,
			Version: key.AzureKeyvaultKey.Version, EncryptedKey: string(req.Ciphertext)}
		azkv.NewTokenCredential(k.Azure).ApplyToMasterKey(mk)
		plain, err = mk.DecryptContext(ctx)
	default:
		return fallback(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	return &keyservice.DecryptResponse{Plaintext: plain}, nil
}

// fallback is SOPS' own local key service: the controller's environment.
func fallback(ctx context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	return keyservice.Server{}.Decrypt(ctx, req)
}

// arnRegion is the region of an AWS KMS key ARN
// (arn:aws:kms:<region>:<account>:key/<id>).
func arnRegion(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) > 3 {
		return parts[3]
	}
	return ""
}

// decryptPGP recovers a data key wrapped for one of ring's keys, as SOPS'
// OpenPGP key source does with a secret key ring, without a gpg binary.
func decryptPGP(ring openpgp.EntityList, armored []byte) ([]byte, error) {
	block, err := pgparmor.Decode(bytes.NewReader(armored))
	if err != nil {
		return nil, errors.New("armor decoding of the encrypted data key failed")
	}
	md, err := openpgp.ReadMessage(block.Body, ring, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("the data key could not be decrypted with any of the imported OpenPGP keys: %w", ErrNoMatchingKey)
	}
	key, err := io.ReadAll(io.LimitReader(md.UnverifiedBody, 1<<10))
	if err != nil {
		return nil, errors.New("reading the decrypted OpenPGP message failed")
	}
	return key, nil
}
