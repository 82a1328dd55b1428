package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	features "github.com/convox/convox/pkg/options"
	"github.com/convox/convox/pkg/structs"
	"github.com/convox/convox/provider/k8s"
	cvfake "github.com/convox/convox/provider/k8s/pkg/client/clientset/versioned/fake"
	"github.com/convox/convox/provider/local"
	core "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	meta1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	kfake "k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"
)

// harness is Convox's provider/local with the few methods a cluster-less rack must answer
// differently. Everything it does not define is Convox's.
type harness struct {
	*local.Provider
	o        *options
	cluster  *kfake.Clientset
	crds     *cvfake.Clientset
	deployer *deployer
	plain    *local.Provider // without the overrides, for reading state back
	storage  string
}

func newHarness(o *options, scratch, pushHost string) (*harness, error) {
	// provider/k8s Initialize stops after its logger and templater when TEST=true: the rest
	// installs CRDs, a priority class and a flow schema with kubectl, which needs a cluster.
	if err := os.Setenv("TEST", "true"); err != nil {
		return nil, err
	}
	cluster, err := fakeCluster(o.rack)
	if err != nil {
		return nil, err
	}
	h := &harness{
		o:        o,
		cluster:  cluster,
		crds:     cvfake.NewSimpleClientset(),
		deployer: newDeployer(o.promoteDelay, o.promoteEnd == "rollback"),
		storage:  filepath.Join(scratch, "storage"),
	}
	// the fields provider/k8s FromEnv reads from a rack's environment
	k := &k8s.Provider{
		Atom:                             h.deployer,
		BuildkitEnabled:                  "true",
		Cluster:                          cluster,
		Convox:                           h.crds,
		DiscoveryClient:                  cluster.Discovery(),
		Domain:                           o.domain,
		FeatureGates:                     features.GetFeatureGates(),
		Image:                            "convox/convox:" + o.version,
		MetricsClient:                    metricsfake.NewSimpleClientset(),
		Name:                             o.rack,
		Namespace:                        o.rack + "-system",
		Password:                         o.password,
		PdbDefaultMinAvailablePercentage: "50",
		Provider:                         "local",
		RackName:                         o.rack,
		RouterType:                       "nginx",
		Socket:                           "/var/run/docker.sock",
		Storage:                          h.storage,
		Version:                          o.version,
	}
	// provider/local's RepositoryHost answers <Registry>/<app>: the TLS front of the registry
	h.plain = &local.Provider{Provider: k, Registry: pushHost, Secret: o.registryPass}
	h.Provider = h.plain
	k.Engine = h // as provider/local FromEnv wires its engine
	return h, nil
}

// fakeCluster holds what a rack's cluster has before any app: its own namespace (provider/k8s
// finds the rack by it) and kube-system (SystemGet reads its uid).
func fakeCluster(rack string) (*kfake.Clientset, error) {
	// NewClientset tracks field managers, so the server-side applies provider/k8s makes (its JWT
	// key, secrets) work.
	c := kfake.NewClientset()
	// an API server names objects sent with generateName (ProcessRun's build pods); the fake
	// tracker does not
	c.PrependReactor("create", "*", func(a ktesting.Action) (bool, runtime.Object, error) {
		if create, ok := a.(ktesting.CreateAction); ok {
			if m, err := meta.Accessor(create.GetObject()); err == nil && m.GetName() == "" && m.GetGenerateName() != "" {
				m.SetName(m.GetGenerateName() + rand.String(5))
			}
		}
		return false, nil, nil
	})
	for _, ns := range []core.Namespace{
		{ObjectMeta: meta1.ObjectMeta{
			Name:        rack + "-system",
			UID:         "rack-system-uid",
			Annotations: map[string]string{"git-sha": ""},
			Labels:      map[string]string{"app": "system", "rack": rack, "system": "convox", "type": "rack"},
		}},
		{ObjectMeta: meta1.ObjectMeta{Name: "kube-system", UID: "kube-system-uid"}},
	} {
		if _, err := c.CoreV1().Namespaces().Create(context.TODO(), &ns, meta1.CreateOptions{}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// createApp makes the app with the real AppCreate, then labels its namespace as the atom's
// kubectl apply of the app template would (system, rack, app).
func (h *harness) createApp() error {
	if h.o.app == "" {
		return nil
	}
	if _, err := h.AppCreate(h.o.app, structs.AppCreateOptions{}); err != nil {
		return fmt.Errorf("AppCreate %s: %w", h.o.app, err)
	}
	nss := h.cluster.CoreV1().Namespaces()
	ns, err := nss.Get(context.TODO(), h.Provider.AppNamespace(h.o.app), meta1.GetOptions{})
	if err != nil {
		return err
	}
	for k, v := range map[string]string{"system": "convox", "rack": h.o.rack, "app": h.o.app} {
		ns.Labels[k] = v
	}
	_, err = nss.Update(context.TODO(), ns, meta1.UpdateOptions{})
	return err
}

// WithContext: the API's controllers call every method through it; provider/local's own would
// hand back the provider without these overrides.
func (h *harness) WithContext(ctx context.Context) structs.Provider {
	c := *h
	c.Provider = h.Provider.WithContext(ctx).(*local.Provider)
	return &c
}

// STAND-IN Start: the real one runs the cluster's controllers (events, pods, nodes, atoms, ...),
// a Kubernetes API proxy on 0.0.0.0:8001 and an hourly heartbeat to metrics.convox.com. None of
// them keeps build or release records.
func (h *harness) Start() error { return nil }

// STAND-IN RepositoryAuth: provider/local answers "docker" and $SECRET; the test registry has its
// own user.
func (h *harness) RepositoryAuth(app string) (string, string, error) {
	return h.o.registryUser, h.o.registryPass, nil
}

// STAND-IN, in part, BuildCreate: the record is the real one. For an external build the real
// answer's push target is https://convox:<password>@api.<domain>/<app>, the rack's own /v2/
// proxy by a name that does not resolve here. -external-repo says what to answer instead:
// "registry" the registry itself, "proxy" the same /v2/ proxy at this server's address, "real"
// the rack's answer unchanged. The target is only answered, never stored.
func (h *harness) BuildCreate(app, url string, opts structs.BuildCreateOptions) (*structs.Build, error) {
	b, err := h.Provider.BuildCreate(app, url, opts)
	if err != nil || b == nil || opts.External == nil || !*opts.External {
		return b, err
	}
	path, ok := strings.CutPrefix(b.Repository, fmt.Sprintf("https://convox:%s@api.%s/", h.o.password, h.o.domain))
	if !ok {
		return b, nil
	}
	switch h.o.externalRepo {
	case "registry":
		b.Repository = fmt.Sprintf("https://%s:%s@%s/%s", h.o.registryUser, h.o.registryPass, h.o.registry, path)
	case "proxy":
		b.Repository = fmt.Sprintf("https://convox:%s@127.0.0.1:%d/%s", h.o.password, h.o.port, path)
	}
	return b, nil
}
