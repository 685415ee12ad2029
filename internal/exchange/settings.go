// Package exchange is how a partner exchanges files, as the database keeps
// it (a partner's SFTP section) and the transports and the schedules read
// it: the stored settings (ParseSettings), the partner's own server
// (Remote, its Pull and Push), when a pull, a push or a fulfilment runs
// (Timing), host key pins (ParsePin), and the records of pulls and pushes
// that store keeps for sftpc (RemoteFile, Delivery). world writes these from the
// configuration; this package imports nothing of Clearhouse's, so that
// transports can.
package exchange

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Settings is what the database keeps of a partner's SFTP section (keys
// have their own table).
type Settings struct {
	MaxSessions  int     `json:"max_sessions,omitempty"`
	PasswordHash string  `json:"password_hash,omitempty"`
	Upload       *Upload `json:"upload,omitempty"`
	Remote       *Remote `json:"remote,omitempty"`
	// Fulfillment is a publisher's fulfillment schedule.
	Fulfillment *Timing `json:"fulfillment,omitempty"`
}

// ParseSettings reads stored settings.
func ParseSettings(s string) (Settings, error) {
	var st Settings
	err := json.Unmarshal([]byte(s), &st)
	return st, err
}

// JSON is the stored form of the settings.
func (s Settings) JSON() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Upload is the completion protocol of a partner's uploads (world.Upload
// says what it means).
type Upload struct {
	Complete string `json:"complete,omitempty"`
}

// DoneFile reports whether uploads wait for their done file.
func (u *Upload) DoneFile() bool { return u != nil && u.Complete == "done_file" }

// Source is where in the configuration a section was written. The stored
// form has always carried it (as "File" and "Line").
type Source struct {
	File string
	Line int
}

// Remote is a partner's own SFTP server (world.Remote documents each
// field). The fields have no JSON names: the stored form uses the Go ones.
type Remote struct {
	Source
	Address     string
	HostKey     HostKeys
	User        string
	KeyFile     string
	PasswordEnv string
	Pull        *Pull
	Push        *Push
}

// Pull takes the partner's files from a folder of their server.
type Pull struct {
	Source
	Dir       string
	Complete  string // temp_name, done_file or stable
	StableFor string
	After     string // delete or move
	MoveTo    string
	Timing
}

// Push delivers the partner's outbox files to a folder of their server.
type Push struct {
	Source
	Dir string
	Timing
}

// Timing says when a pull or push runs: every (a Go duration: 30s, 5m) or
// schedule (a cron expression, minute hour day-of-month month day-of-week)
// in timezone (an IANA name; default UTC). A run missed while Clearhouse
// was down runs once when it is back.
type Timing struct {
	Every    string `yaml:"every"`
	Schedule string `yaml:"schedule"`
	Timezone string `yaml:"timezone"`
}

// Spec returns the schedule as robfig/cron reads it ("@every 5m",
// "CRON_TZ=Europe/Paris 0 6 * * 1-5"), def when nothing is set.
func (t Timing) Spec(def time.Duration) (cron.Schedule, string, error) {
	var spec string
	switch {
	case t.Every != "" && t.Schedule != "":
		return nil, "", errors.New("every and schedule both set: keep one")
	case t.Schedule != "":
		if strings.Contains(t.Schedule, "TZ=") {
			return nil, "", errors.New("put the time zone in timezone, not in the schedule")
		}
		spec = t.Schedule
		if t.Timezone != "" {
			if _, err := time.LoadLocation(t.Timezone); err != nil {
				return nil, "", fmt.Errorf("timezone %q is not an IANA time zone (Europe/Paris, UTC)", t.Timezone)
			}
			spec = "CRON_TZ=" + t.Timezone + " " + spec
		}
	default:
		d := def
		if t.Every != "" {
			var err error
			if d, err = time.ParseDuration(t.Every); err != nil || d < time.Second {
				return nil, "", fmt.Errorf("every %q is not a duration of a second or more (30s, 5m, 1h)", t.Every)
			}
		}
		if t.Timezone != "" {
			return nil, "", errors.New("timezone goes with schedule, not every")
		}
		spec = "@every " + d.String()
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, "", fmt.Errorf("schedule %q: %v", t.Schedule, err)
	}
	return sched, spec, nil
}

// Duration parses d, or returns def when d is empty.
func Duration(d string, def time.Duration) time.Duration {
	if d == "" {
		return def
	}
	v, err := time.ParseDuration(d)
	if err != nil {
		return def
	}
	return v
}
