//go:build e2e

package cmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Credentials from the kubeconfig never reach stdout or stderr, even at client-go's most
// verbose logging, whether the run succeeds, is refused or cannot reach the server.
func TestCredentialsNeverAppearInOutput(t *testing.T) {
	ctx := context.Background()
	// A real bearer token the API server accepts: a service account's, minted by the TokenRequest API.
	expiry := int64(600)
	token, err := cluster.Client.CoreV1().ServiceAccounts("shop").CreateToken(ctx, "default",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bearer := token.Status.Token
	const prometheusPassword = "alertmend-test-prometheus-password"

	adminConfig, err := clientcmd.LoadFromFile(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var clientKey []byte
	for _, user := range adminConfig.AuthInfos {
		clientKey = user.ClientKeyData
	}
	if len(clientKey) == 0 {
		t.Fatal("the admin kubeconfig has no client key")
	}

	tokenKubeconfig := withUser(t, "token", adminConfig, func(user *clientcmdapi.AuthInfo) {
		user.ClientCertificateData, user.ClientKeyData, user.Token = nil, nil, bearer
	})
	rejectedToken := "alertmend-test-rejected-token-" + strings.Repeat("x", 24)
	rejectedKubeconfig := withUser(t, "rejected", adminConfig, func(user *clientcmdapi.AuthInfo) {
		user.ClientCertificateData, user.ClientKeyData, user.Token = nil, nil, rejectedToken
	})
	unreachableKubeconfig := withUser(t, "unreachable", adminConfig, func(user *clientcmdapi.AuthInfo) {
		user.Token = bearer
	})
	unreachable, _ := clientcmd.LoadFromFile(unreachableKubeconfig)
	for _, c := range unreachable.Clusters {
		c.Server = "https://127.0.0.1:1"
	}
	if err := clientcmd.WriteToFile(*unreachable, unreachableKubeconfig); err != nil {
		t.Fatal(err)
	}

	secrets := map[string]string{
		"the bearer token":                 bearer,
		"the bearer token's signature":     bearer[strings.LastIndex(bearer, ".")+1:],
		"the rejected token":               rejectedToken,
		"the client key as kubeconfig has": base64.StdEncoding.EncodeToString(clientKey),
		"the password in --prometheus-url": prometheusPassword,
	}
	// Any line of the key's PEM body, in case it is printed decoded.
	for i, line := range strings.Split(string(clientKey), "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			secrets[fmt.Sprintf("line %d of the client key", i+1)] = line
		}
	}

	runs := []struct {
		name string
		args []string
	}{
		// Nothing listens on port 1 of loopback: the conntrack source fails, and says so in the report.
		{"a password in --prometheus-url", []string{"diagnose", "-o", "json", "--kubeconfig", cluster.Kubeconfig,
			"--checks", "conntrack-table-usage", "--prometheus-url", "http://alice:" + prometheusPassword + "@127.0.0.1:1"}},
		{"a password in a --prometheus-url refused", []string{"diagnose", "--kubeconfig", cluster.Kubeconfig,
			"--prometheus-url", "ftp://alice:" + prometheusPassword + "@127.0.0.1:1"}},
		{"diagnose with a token", []string{"diagnose", "-o", "json", "--kubeconfig", tokenKubeconfig}},
		{"diagnose with a client certificate", []string{"diagnose", "-o", "json", "--kubeconfig", cluster.Kubeconfig}},
		{"rbac-audit with a client certificate", []string{"rbac-audit", "--kubeconfig", cluster.Kubeconfig}},
		{"--token on the command line", []string{"diagnose", "-n", "shop", "--kubeconfig", tokenKubeconfig, "--token", bearer}},
		{"--explain-permissions with a token", []string{"diagnose", "--explain-permissions", "--kubeconfig", tokenKubeconfig}},
		{"snapshot with a client certificate", []string{"snapshot", "-o", filepath.Join(t.TempDir(), "s.gz"), "--kubeconfig", cluster.Kubeconfig}},
		{"a rejected token", []string{"diagnose", "--kubeconfig", rejectedKubeconfig}},
		{"an unreachable server", []string{"diagnose", "--kubeconfig", unreachableKubeconfig, "--request-timeout", "2s"}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, append(r.args, "-v=10")...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			_ = cmd.Run() // the exit code is not the point: refusals and unreachable servers are meant to fail
			output := out.String()
			// Proof that the logging the test relies on is on: client-go logs the requests it sends.
			if !strings.Contains(output, "curl -v -X") && !strings.Contains(output, "cannot reach") && !strings.Contains(output, "invalid --prometheus-url") {
				t.Fatalf("no request logged at -v=10; is the flag wired to klog?\n%.2000s", output)
			}
			for what, secret := range secrets {
				if strings.Contains(output, secret) {
					t.Errorf("%s appears in the output", what)
				}
			}
		})
	}
}

// withUser writes a copy of config whose every user is changed by edit.
func withUser(t *testing.T, name string, config *clientcmdapi.Config, edit func(*clientcmdapi.AuthInfo)) string {
	t.Helper()
	copied := config.DeepCopy()
	for _, user := range copied.AuthInfos {
		edit(user)
	}
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*copied, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
