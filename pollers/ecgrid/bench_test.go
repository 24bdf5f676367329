package ecgrid

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkDecodeSessionLog: one 100-row SessionLog answer (the MaxRecords default).
func BenchmarkDecodeSessionLog(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><SessionLogResponse xmlns="http://www.ecgridos.net/"><SessionLogResult>`)
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, `<SessionIDInfo><SessionID>A1B2C3D4-E5F6-7890-ABCD-%012d</SessionID><UserID>12345</UserID><NetworkID>100</NetworkID><MailboxID>200</MailboxID><Created>2026-05-07T08:00:%02dZ</Created><Expires>2026-05-07T09:00:00Z</Expires></SessionIDInfo>`, i, i%60)
	}
	sb.WriteString(`</SessionLogResult></SessionLogResponse></soap:Body></soap:Envelope>`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rows, err := DecodeSessionLog(body, "SessionLog")
		if err != nil || len(rows) != 100 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
}
