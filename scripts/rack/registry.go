package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// startRegistryFront serves the plain-http registry behind TLS on a loopback port and answers
// that host:port. The rack's /v2/ proxy (provider/k8s registry.go) dials its registry with https
// only, as it would ECR, GCR or ACR.
func startRegistryFront(registry string) (string, error) {
	backend, err := url.Parse("http://" + registry)
	if err != nil {
		return "", fmt.Errorf("-registry %q: %w", registry, err)
	}
	front := httptest.NewUnstartedServer(nil) // listens on 127.0.0.1, any port
	self := front.Listener.Addr().String()
	front.Config.Handler = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backend)
			r.Out.Host = r.In.Host // the registry then names the front in its answers
			r.SetXForwarded()
		},
		// upload locations on the front become relative, so a push through /v2/ stays on its path
		ModifyResponse: func(res *http.Response) error {
			if u, err := url.Parse(res.Header.Get("Location")); err == nil && u.IsAbs() && u.Host == self {
				res.Header.Set("Location", u.RequestURI())
			}
			return nil
		},
		FlushInterval: -1,
	}
	front.StartTLS()
	return self, nil
}

// trustRegistriesForSkopeo: BuildImport and BuildExport run skopeo with fixed arguments, so it
// must take the plain registry and the self-signed front as insecure. containers/image reads
// $HOME/.config/containers/registries.conf before /etc (older skopeo ignore
// CONTAINERS_REGISTRIES_CONF): a HOME of our own holds it.
func trustRegistriesForSkopeo(scratch string, registries ...string) error {
	home := filepath.Join(scratch, "home")
	dir := filepath.Join(home, ".config", "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var conf strings.Builder
	for _, r := range registries {
		fmt.Fprintf(&conf, "[[registry]]\nlocation = %q\ninsecure = true\n\n", r)
	}
	file := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(file, []byte(conf.String()), 0o600); err != nil {
		return err
	}
	for k, v := range map[string]string{"HOME": home, "CONTAINERS_REGISTRIES_CONF": file} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}
