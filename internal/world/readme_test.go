package world_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/world"
)

var yamlBlock = regexp.MustCompile("(?ms)^```ya?ml\n(.*?)^```")

// readmeYAML returns every ```yaml block of the READMEs, by file and line.
func readmeYAML(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range []string{"../../README.md", "../../deploy/README.md"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range yamlBlock.FindAllSubmatchIndex(b, -1) {
			line := 1 + strings.Count(string(b[:m[0]]), "\n")
			out[fmt.Sprintf("%s:%d", strings.TrimPrefix(f, "../../"), line)] = string(b[m[2]:m[3]])
		}
	}
	return out
}

// dedent removes the indentation of the block's first line from every line.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	ind := -1
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			ind = len(l) - len(strings.TrimLeft(l, " "))
			break
		}
	}
	for i, l := range lines {
		if len(l) >= ind && strings.TrimSpace(l[:max(ind, 0)]) == "" {
			lines[i] = l[max(ind, 0):]
		}
	}
	return strings.Join(lines, "\n")
}

// asWorld completes a README block into a world: a whole world stays as it
// is, a partner's sftp section goes into smallWorld's last reseller, isp-de.
func asWorld(t *testing.T, where, block string) string {
	t.Helper()
	b := dedent(block)
	first := strings.TrimSpace(strings.SplitN(strings.TrimLeft(b, "\n"), "\n", 2)[0])
	switch {
	case strings.HasPrefix(first, "hub:"), strings.HasPrefix(first, "publishers:"), strings.HasPrefix(first, "resellers:"), strings.HasPrefix(first, "catalogs:"):
		return b
	case strings.HasPrefix(first, "sftp:"):
		var sb strings.Builder
		sb.WriteString(smallWorld)
		for _, l := range strings.Split(b, "\n") {
			sb.WriteString("    " + l + "\n")
		}
		return sb.String()
	}
	t.Fatalf("%s: a YAML block starting with %q: the test does not know where it goes; teach asWorld", where, first)
	return ""
}

// TestEveryREADMEYAMLApplies pins issue 12 item 5: the README's
// pull/push every, schedule and timezone were refused as unknown fields
// (Timing is inline and strict ignored inline structs).
func TestEveryREADMEYAMLApplies(t *testing.T) {
	t.Parallel()
	blocks := readmeYAML(t)
	if len(blocks) == 0 {
		t.Fatal("no ```yaml block found in the READMEs")
	}
	for where, block := range blocks {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			dir := configDir(t, map[string]string{"world.yaml": asWorld(t, where, block)})
			if _, err := world.Load(dir); err != nil {
				t.Fatalf("%s does not load:\n%v", where, err)
			}
			pool := pgtest.New(t)
			if _, err := apply(t, pool, dir); err != nil {
				t.Fatalf("%s does not apply: %v", where, err)
			}
			if !strings.Contains(block, "remote:") {
				return
			}
			// What the scheduler reads (serve's schedules): the stored settings.
			var js string
			if err := pool.QueryRow(context.Background(), `SELECT sftp FROM partners WHERE id = 'isp-de'`).Scan(&js); err != nil {
				t.Fatal(err)
			}
			st, err := exchange.ParseSettings(js)
			if err != nil || st.Remote == nil {
				t.Fatalf("%v %+v", err, st)
			}
			for _, c := range []struct {
				op   string
				t    *exchange.Timing
				def  time.Duration
				want string
			}{
				{"pull", timingOf(st.Remote.Pull), 5 * time.Minute, `CRON_TZ=Europe/Paris */10 6-20 * * 1-5`},
				{"push", pushTiming(st.Remote.Push), time.Minute, `@every 1m0s`},
			} {
				if c.t == nil {
					t.Fatalf("%s: no %s stored", where, c.op)
				}
				if _, spec, err := c.t.Spec(c.def); err != nil || spec != c.want {
					t.Errorf("%s: %s runs on %q (%v), the README says %q", where, c.op, spec, err, c.want)
				}
			}
		})
	}
}

func timingOf(p *exchange.Pull) *exchange.Timing {
	if p == nil {
		return nil
	}
	return &p.Timing
}

func pushTiming(p *exchange.Push) *exchange.Timing {
	if p == nil {
		return nil
	}
	return &p.Timing
}
