package syslog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// message is an RFC 5424 message as a test reads it back; the parser is written here,
// independently of the sink's encoder.
type message struct {
	Pri                                 int
	Timestamp, Host, App, ProcID, MsgID string
	SDID                                string
	SD                                  map[string]string
	Msg                                 string
}

func parse5424(s string) (message, error) {
	var m message
	if !strings.HasPrefix(s, "<") {
		return m, errors.New("no <PRI>")
	}
	end := strings.Index(s, ">")
	if end < 0 {
		return m, errors.New("unterminated PRI")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil {
		return m, fmt.Errorf("PRI: %w", err)
	}
	m.Pri = pri
	rest := s[end+1:]
	f := strings.SplitN(rest, " ", 7)
	if len(f) != 7 || f[0] != "1" {
		return m, fmt.Errorf("header fields: %q", rest)
	}
	m.Timestamp, m.Host, m.App, m.ProcID, m.MsgID = f[1], f[2], f[3], f[4], f[5]
	rest = f[6]
	if !strings.HasPrefix(rest, "[") {
		return m, errors.New("no structured data")
	}
	// [ID k="v" k="v"] with \" \\ \] escapes in values.
	i := 1
	sp := strings.IndexAny(rest, " ]")
	m.SDID = rest[1:sp]
	i = sp
	m.SD = map[string]string{}
	for rest[i] == ' ' {
		eq := strings.Index(rest[i:], `="`)
		if eq < 0 {
			return m, errors.New("SD param without value")
		}
		name := rest[i+1 : i+eq]
		i += eq + 2
		var v strings.Builder
		for ; rest[i] != '"'; i++ {
			if rest[i] == '\\' && (rest[i+1] == '"' || rest[i+1] == '\\' || rest[i+1] == ']') {
				i++
			}
			v.WriteByte(rest[i])
		}
		m.SD[name] = v.String()
		i++
	}
	if rest[i] != ']' {
		return m, fmt.Errorf("SD not closed at %d", i)
	}
	m.Msg = strings.TrimPrefix(rest[i+1:], " ")
	return m, nil
}
