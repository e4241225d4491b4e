package cloudauth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google/externalaccount"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServiceAccount annotations read, as Flux reads them.
const (
	// AWSRoleARNAnnotation is the IAM role a ServiceAccount assumes (EKS IRSA).
	AWSRoleARNAnnotation = "eks.amazonaws.com/role-arn"
	// AzureClientIDAnnotation is the Entra ID application (or managed
	// identity) federated with the ServiceAccount.
	AzureClientIDAnnotation = "azure.workload.identity/client-id"
	// AzureTenantIDAnnotation is its tenant.
	AzureTenantIDAnnotation = "azure.workload.identity/tenant-id"
	// GCPWorkloadIdentityProviderAnnotation is the workload identity pool
	// provider (projects/N/locations/global/workloadIdentityPools/P/providers/R).
	GCPWorkloadIdentityProviderAnnotation = "gcp.auth.fluxcd.io/workload-identity-provider"
	// GCPServiceAccountAnnotation is the GCP service account impersonated.
	GCPServiceAccountAnnotation = "iam.gke.io/gcp-service-account"
)

// Audiences of the tokens exchanged.
const (
	AWSAudience   = "sts.amazonaws.com"
	AzureAudience = "api://AzureADTokenExchange"
)

// tokenLifetime is how long an issued ServiceAccount token lives.
const tokenLifetime = 10 * time.Minute

// Issuer issues tokens of one ServiceAccount.
type Issuer struct {
	// Client reads the ServiceAccount and creates its tokens.
	Client client.Client
	// Namespace and Name name the ServiceAccount.
	Namespace, Name string
}

// ServiceAccount reads the ServiceAccount; a missing one is a clear error.
func (i *Issuer) ServiceAccount(ctx context.Context) (*corev1.ServiceAccount, error) {
	var sa corev1.ServiceAccount
	if err := i.Client.Get(ctx, client.ObjectKey{Namespace: i.Namespace, Name: i.Name}, &sa); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("ServiceAccount '%s/%s' not found", i.Namespace, i.Name)
		}
		return nil, fmt.Errorf("get ServiceAccount '%s/%s': %w", i.Namespace, i.Name, err)
	}
	return &sa, nil
}

// Token issues a token of the ServiceAccount for the audiences.
func (i *Issuer) Token(ctx context.Context, audiences ...string) (string, error) {
	seconds := int64(tokenLifetime.Seconds())
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences: audiences, ExpirationSeconds: &seconds}}
	sa := &corev1.ServiceAccount{}
	sa.Namespace, sa.Name = i.Namespace, i.Name
	if err := i.Client.SubResource("token").Create(ctx, sa, tr); err != nil {
		return "", fmt.Errorf("create a token for ServiceAccount '%s/%s': %w", i.Namespace, i.Name, err)
	}
	return tr.Status.Token, nil
}

// annotation returns a required annotation of sa.
func annotation(sa *corev1.ServiceAccount, key string) (string, error) {
	v := strings.TrimSpace(sa.Annotations[key])
	if v == "" {
		return "", fmt.Errorf("ServiceAccount '%s/%s' has no %s annotation", sa.Namespace, sa.Name, key)
	}
	return v, nil
}

// AWS returns credentials of the IAM role in the ServiceAccount's
// eks.amazonaws.com/role-arn annotation, assumed with STS
// AssumeRoleWithWebIdentity in region with the ServiceAccount's tokens.
func (i *Issuer) AWS(ctx context.Context, region string) (aws.CredentialsProvider, error) {
	sa, err := i.ServiceAccount(ctx)
	if err != nil {
		return nil, err
	}
	role, err := annotation(sa, AWSRoleARNAnnotation)
	if err != nil {
		return nil, err
	}
	stsClient := sts.New(sts.Options{Region: region})
	provider := stscreds.NewWebIdentityRoleProvider(stsClient, role, tokenRetriever{ctx: ctx, issuer: i},
		func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "weir-" + sa.Namespace + "-" + sa.Name })
	return aws.NewCredentialsCache(provider), nil
}

// tokenRetriever hands STS the ServiceAccount's token.
type tokenRetriever struct {
	ctx    context.Context
	issuer *Issuer
}

// GetIdentityToken issues a token for AWS STS.
func (r tokenRetriever) GetIdentityToken() ([]byte, error) {
	t, err := r.issuer.Token(r.ctx, AWSAudience)
	return []byte(t), err
}

// Azure returns a credential of the Entra ID application federated with the
// ServiceAccount (azure.workload.identity/client-id and tenant-id
// annotations), authenticated with the ServiceAccount's tokens.
func (i *Issuer) Azure(ctx context.Context) (azcore.TokenCredential, error) {
	sa, err := i.ServiceAccount(ctx)
	if err != nil {
		return nil, err
	}
	clientID, err := annotation(sa, AzureClientIDAnnotation)
	if err != nil {
		return nil, err
	}
	tenantID, err := annotation(sa, AzureTenantIDAnnotation)
	if err != nil {
		return nil, err
	}
	return azidentity.NewClientAssertionCredential(tenantID, clientID, func(ctx context.Context) (string, error) {
		return i.Token(ctx, AzureAudience)
	}, nil)
}

// GCP returns a token source of GCP workload identity federation: the
// ServiceAccount's tokens exchanged at Google's STS for the pool provider in
// the gcp.auth.fluxcd.io/workload-identity-provider annotation, impersonating
// the iam.gke.io/gcp-service-account service account when one is named.
func (i *Issuer) GCP(ctx context.Context) (oauth2.TokenSource, error) {
	sa, err := i.ServiceAccount(ctx)
	if err != nil {
		return nil, err
	}
	provider, err := annotation(sa, GCPWorkloadIdentityProviderAnnotation)
	if err != nil {
		return nil, err
	}
	audience := "//iam.googleapis.com/" + strings.TrimPrefix(provider, "//iam.googleapis.com/")
	cfg := externalaccount.Config{
		Audience:             audience,
		SubjectTokenType:     "urn:ietf:params:oauth:token-type:jwt",
		TokenURL:             "https://sts.googleapis.com/v1/token",
		Scopes:               []string{"https://www.googleapis.com/auth/cloud-platform"},
		SubjectTokenSupplier: subjectSupplier{issuer: i, audience: audience},
	}
	if gsa := strings.TrimSpace(sa.Annotations[GCPServiceAccountAnnotation]); gsa != "" {
		cfg.ServiceAccountImpersonationURL = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + gsa + ":generateAccessToken"
	}
	return externalaccount.NewTokenSource(ctx, cfg)
}

// subjectSupplier hands Google's STS the ServiceAccount's token.
type subjectSupplier struct {
	issuer   *Issuer
	audience string
}

// SubjectToken issues a token for the pool provider.
func (s subjectSupplier) SubjectToken(ctx context.Context, _ externalaccount.SupplierOptions) (string, error) {
	return s.issuer.Token(ctx, s.audience)
}
