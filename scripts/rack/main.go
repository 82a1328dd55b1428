// Command rack serves Convox's own rack API on loopback for the rack tests
// (__tests__/rig/rack-realrack.test.ts, through __tests__/helpers/realrack.ts).
//
// The server is Convox's: pkg/api (routes, Basic auth, roles, validation hooks, stdapi's parameter
// decoding and error bodies) over provider/local, which is provider/k8s plus the local rack's
// engine, talking to fake Kubernetes clientsets (client-go's and Convox's generated one for its
// build and release CRDs). What a cluster would do is stood in for here, each marked STAND-IN:
// the atom deployer that a promote hands its templates to (deployer.go), the controllers Start
// would run, the registry credentials, and the push target of external builds (provider.go).
// Faults that are not Convox's (-fail-builds-503) happen before its server sees the request
// (journal.go). Convox's source comes in at build time: see build.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/convox/convox/pkg/api"
)

type options struct {
	port         int
	password     string
	app          string
	rack         string
	domain       string
	version      string
	registry     string
	registryUser string
	registryPass string
	stateFile    string
	externalRepo string
	promoteDelay time.Duration
	promoteEnd   string
	tls          bool
	failBuilds   int
}

func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("rack", flag.ContinueOnError)
	fs.IntVar(&o.port, "port", 5443, "listen on 127.0.0.1:`PORT`")
	fs.StringVar(&o.password, "password", "", "the rack password, else $RACK_PASSWORD (none: no authentication, as cmd/api without PASSWORD)")
	fs.StringVar(&o.app, "app", "myapp", "an app made at start by the real AppCreate (empty: none)")
	fs.StringVar(&o.rack, "rack", "realrack", "rack name: SystemGet's name, namespaces <rack>-<app>")
	fs.StringVar(&o.domain, "domain", "localhost", "rack domain")
	fs.StringVar(&o.version, "version", "3.24.9", "rack version SystemGet answers")
	fs.StringVar(&o.registry, "registry", "", "the apps' image registry, `host:port`, plain http on loopback")
	fs.StringVar(&o.registryUser, "registry-user", "", "its user")
	fs.StringVar(&o.registryPass, "registry-pass", "", "its password, else $RACK_REGISTRY_PASSWORD")
	fs.StringVar(&o.stateFile, "state", "rack-state.json", "state file, rewritten after every request and on SIGUSR1")
	fs.StringVar(&o.externalRepo, "external-repo", "registry", "push target an external BuildCreate answers: registry|proxy|real")
	fs.DurationVar(&o.promoteDelay, "atom-delay", 2*time.Second, "how long a promote takes to settle")
	fs.StringVar(&o.promoteEnd, "atom-outcome", "running", "how promotes end: running|rollback")
	fs.BoolVar(&o.tls, "tls", false, "serve https with a self-signed certificate, as a rack's cmd/api does")
	fs.IntVar(&o.failBuilds, "fail-builds-503", 0, "not Convox: answer the first `N` POST /apps/*/builds with 503")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.externalRepo != "registry" && o.externalRepo != "proxy" && o.externalRepo != "real":
		return nil, fmt.Errorf("-external-repo %q: want registry, proxy or real", o.externalRepo)
	case o.promoteEnd != "running" && o.promoteEnd != "rollback":
		return nil, fmt.Errorf("-atom-outcome %q: want running or rollback", o.promoteEnd)
	}
	// passwords are better given by environment: argv is visible to every user of the machine
	if o.password == "" {
		o.password = os.Getenv("RACK_PASSWORD")
	}
	if o.registryPass == "" {
		o.registryPass = os.Getenv("RACK_REGISTRY_PASSWORD")
	}
	if abs, err := filepath.Abs(o.stateFile); err == nil {
		o.stateFile = abs
	}
	return o, nil
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err == nil {
		err = serve(o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rack: %v\n", err)
		os.Exit(1)
	}
}

func serve(o *options) error {
	scratch, err := os.MkdirTemp("", "convox-build-rack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)

	pushHost := ""
	if o.registry != "" {
		if pushHost, err = startRegistryFront(o.registry); err != nil {
			return err
		}
		if err := trustRegistriesForSkopeo(scratch, o.registry, pushHost); err != nil {
			return err
		}
	}

	h, err := newHarness(o, scratch, pushHost)
	if err != nil {
		return err
	}
	server := api.NewWithProvider(h) // runs Initialize (local, then k8s) and Start
	server.Password = o.password     // as cmd/api does with $PASSWORD
	if err := h.createApp(); err != nil {
		return err
	}
	j := newJournal(h, o.stateFile, o.failBuilds)
	server.Wrapper = j.wrap
	j.save()

	stopped := make(chan struct{})
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range signals {
			j.save()
			if s == syscall.SIGUSR1 {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = server.Shutdown(ctx)
			cancel()
			close(stopped)
			return
		}
	}()

	scheme := "http"
	if o.tls {
		scheme = "https"
	}
	addr := fmt.Sprintf("127.0.0.1:%d", o.port)
	fmt.Printf("rack: %s://%s app=%s rack=%s state=%s push registry=%s external-repo=%s\n",
		scheme, addr, o.app, o.rack, o.stateFile, pushHost, o.externalRepo)
	if err := server.Listen(scheme, addr); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-stopped
	return nil
}
