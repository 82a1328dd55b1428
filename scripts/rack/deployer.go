package main

import (
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/convox/convox/pkg/atom"
)

// STAND-IN deployer for pkg/atom. ReleasePromote renders every template (Convox's code) and hands
// them to Atom.Apply. On a rack that stores an Atom CRD whose controller kubectl-applies them and
// moves its status Pending -> Updating -> Running, or on a failure Rollback -> Reverted to the
// release before. Here the release is answered at once (as the real release cache does) and the
// status takes those steps over the promote delay; with rollback set every promote but the
// first one (AppCreate's empty release) ends reverted.
type deployer struct {
	mu       sync.Mutex
	delay    time.Duration
	rollback bool
	current  map[string]*promotion // by namespace/name
	history  []*promotion
}

// promotion is one Apply, as the state file lists it.
type promotion struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Release   string    `json:"release"`
	Previous  string    `json:"previous"`
	Status    string    `json:"status"`
	Applied   time.Time `json:"applied"`
	Images    []string  `json:"images"`
}

var templateImage = regexp.MustCompile(`(?m)^[ \t-]*image:[ \t]*"?([^"\s]+)`)

func newDeployer(delay time.Duration, rollback bool) *deployer {
	return &deployer{delay: delay, rollback: rollback, current: map[string]*promotion{}}
}

func (d *deployer) Apply(ns, name string, cfg *atom.ApplyConfig) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := &promotion{Namespace: ns, Name: name, Release: cfg.Release, Status: "Pending",
		Applied: time.Now().UTC(), Images: imagesOf(cfg.Template)}
	if before := d.current[ns+"/"+name]; before != nil {
		p.Previous = before.live()
	}
	d.current[ns+"/"+name] = p
	d.history = append(d.history, p)
	steps := []string{"Updating", "Running"}
	if d.rollback && cfg.Release != "" {
		steps = []string{"Updating", "Rollback", "Reverted"}
	}
	go d.walk(p, steps)
	return nil
}

// live is the release the app runs once p settles.
func (p *promotion) live() string {
	if p.Status == "Rollback" {
		return p.Previous
	}
	return p.Release
}

func (d *deployer) walk(p *promotion, steps []string) {
	for _, status := range steps {
		time.Sleep(d.delay / time.Duration(len(steps)))
		d.mu.Lock()
		if d.current[p.Namespace+"/"+p.Name] != p || p.Status == "Cancelled" || p.Status == "Failure" {
			d.mu.Unlock()
			return
		}
		p.Status = status
		if status == "Reverted" {
			p.Release, p.Previous = p.Previous, p.Release
		}
		d.mu.Unlock()
	}
}

// Cancel as pkg/atom Client.Cancel (Pending counts as updating: no controller lags behind here).
func (d *deployer) Cancel(ns, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.current[ns+"/"+name]
	if p == nil {
		return fmt.Errorf("atoms.atom.convox.com %q not found", name)
	}
	switch p.Status {
	case "Rollback":
		p.Status = "Failure"
	case "Pending", "Updating":
		p.Status = "Cancelled"
	default:
		return fmt.Errorf("not currently updating")
	}
	return nil
}

// Status as pkg/atom Client.Status: nothing for an atom never applied.
func (d *deployer) Status(ns, name string) (string, string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.current[ns+"/"+name]; p != nil {
		return p.Status, p.Release, nil
	}
	return "", "", nil
}

func (d *deployer) StatusAll() ([]atom.AtomStatusInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	all := []atom.AtomStatusInfo{}
	for _, p := range d.current {
		if p.Name == "app" {
			all = append(all, atom.AtomStatusInfo{Namespace: p.Namespace, Status: p.Status, Release: p.Release})
		}
	}
	return all, nil
}

// promotions: a copy of every Apply so far, oldest first.
func (d *deployer) promotions() []promotion {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]promotion, len(d.history))
	for i, p := range d.history {
		out[i] = *p
	}
	return out
}

// imagesOf lists the images a rendered template runs, each once, in order.
func imagesOf(template []byte) []string {
	images := []string{}
	seen := map[string]bool{}
	for _, m := range templateImage.FindAllSubmatch(template, -1) {
		if image := string(m[1]); !seen[image] {
			seen[image] = true
			images = append(images, image)
		}
	}
	return images
}
