package mapkit

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/auditstream/auditstream/schemas/ocsf"
)

// ReadPhrase keeps the one who acted apart from the ones addressed: each phrasing of the
// e-signature logs (docs/mapping.md, "Who did what to whom") with its actor, relation,
// recipients and document.
func TestReadPhrase(t *testing.T) {
	for text, want := range map[string]string{
		"Document 'Listing Agreement' sent to seller@example.com":                                       `by=false actor=<nil> rel="sent to" to=[{ seller@example.com}] doc="Listing Agreement"`,
		"Document 'Listing Agreement' sent to seller@example.com by Agent Smith (agent@realty.example)": `by=true actor={Agent Smith agent@realty.example} rel="sent to" to=[{ seller@example.com}] doc="Listing Agreement"`,
		"Document viewed by Jane Doe (jane@x.com)":                                                      `by=true actor={Jane Doe jane@x.com} rel="" to=[] doc=""`,
		"Document 'Signed by Seller Addendum' viewed by Abby Byrne":                                     `by=true actor={Abby Byrne } rel="" to=[] doc="Signed by Seller Addendum"`,
		"Document 'Offer' sent to Stand By Me Realty <office@standbyme.example> by Jane Doe":            `by=true actor={Jane Doe } rel="sent to" to=[{Stand By Me Realty office@standbyme.example}] doc="Offer"`,
		"Document shared with buyer1@example.com, buyer2@example.com and Carl Buyer <carl@example.net>": `by=false actor=<nil> rel="shared with" to=[{ buyer1@example.com} { buyer2@example.com} {Carl Buyer carl@example.net}] doc=""`,
		"Document shared by Jane Doe with bob@example.com":                                              `by=true actor={Jane Doe } rel="with" to=[{ bob@example.com}] doc=""`,
		"Signing session to signer : 9fe0d028@groups.congamerge.com(somegroup":                          `by=false actor=<nil> rel="to signer" to=[{somegroup 9fe0d028@groups.congamerge.com}] doc=""`,
		"Session sent to signer":                                                  `by=false actor=<nil> rel="" to=[] doc=""`,
		"Document sent to recipients: a@x.com; b@y.com by signer":                 `by=true actor=<nil> rel="sent to" to=[{ a@x.com} { b@y.com}] doc=""`,
		"Document viewed by Pat O'Brien on 03/15/2016":                            `by=true actor={Pat O'Brien } rel="" to=[] doc=""`,
		"Reason: please resend to legal@example.com":                              `by=false actor=<nil> rel="" to=[] doc=""`,
		"Kaufvertrag “Haus Müller” signed by Zoë Ångström-Núñez <zoe@example.de>": `by=true actor={Zoë Ångström-Núñez zoe@example.de} rel="" to=[] doc="Haus Müller"`,
		"": `by=false actor=<nil> rel="" to=[] doc=""`,
	} {
		p := ReadPhrase(text)
		actor := "<nil>"
		if p.Actor != nil {
			actor = fmt.Sprint(*p.Actor)
		}
		got := fmt.Sprintf("by=%v actor=%s rel=%q to=%v doc=%q", p.By, actor, p.Relation, p.Recipients, p.Document)
		if got != want {
			t.Errorf("%q:\n got %s\nwant %s", text, got, want)
		}
	}
}

// ReadPhrase never panics, and what it reads comes from the text: every address is valid
// and stands in it.
func FuzzReadPhrase(f *testing.F) {
	for _, s := range []string{"Document 'Listing Agreement' sent to seller@example.com by Agent Smith (agent@realty.example)",
		"Signing session to signer : a@b.co(x", "shared by Jane with b@c.de and Ann <a@b.cd>; ‘x’ “y”", "by", "'", "to signer :"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := ReadPhrase(s)
		ps := p.Recipients
		if p.Actor != nil {
			ps = append(ps, *p.Actor)
		}
		for _, q := range ps {
			if q.Email != "" && (!ocsf.ValidEmail(q.Email) || !strings.Contains(s, q.Email)) {
				t.Fatalf("%q: party %+v", s, q)
			}
		}
	})
}

// maskQuotesQuadratic is maskQuotes as it was before it was made linear: the reference
// its results are held to.
func maskQuotesQuadratic(s string) (masked, first string) {
	b := []byte(s)
	pairs := [][2]string{{"'", "'"}, {"\"", "\""}, {"‘", "’"}, {"“", "”"}}
	for i := 0; i < len(s); {
		opened := false
		for _, q := range pairs {
			if !strings.HasPrefix(s[i:], q[0]) || i > 0 && !strings.ContainsRune(" \t([<:", rune(s[i-1])) {
				continue
			}
			from := i + len(q[0])
			for j := from; j < len(s); {
				k := strings.Index(s[j:], q[1])
				if k < 0 {
					break
				}
				end := j + k + len(q[1])
				if end == len(s) || strings.IndexByte(" \t.,;:)]>!?", s[end]) >= 0 {
					if first == "" {
						first = strings.TrimSpace(s[from : j+k])
					}
					for x := i; x < end; x++ {
						b[x] = ' '
					}
					i, opened = end, true
					break
				}
				j = end
			}
			if opened {
				break
			}
		}
		if !opened {
			i++
		}
	}
	return string(b), first
}

// maskQuotes reads what it read before it was made linear: same blanks, same document.
func TestMaskQuotesSameAsBefore(t *testing.T) {
	texts := []string{"", "'", "''", "'a'", " 'x 'y' z'", "O'Brien 'Doc' x", "'a'b' c", "“x” ‘y’ \"z\"",
		"a 'b c 'd' e'f 'g", "(\"x\") <'y'>: 'z", "‘a’b’ ‘c", " 'x 'x 'x", "\"a\"b \"c\"."}
	rnd := uint32(1)
	for n := 0; n < 3000; n++ {
		var b strings.Builder
		for i := 0; i < int(rnd%24); i++ {
			rnd = rnd*1664525 + 1013904223
			b.WriteString([]string{"'", "\"", "‘", "’", "“", "”", " ", "a", ".", "(", ":", "x"}[rnd>>16%12])
		}
		rnd = rnd*1664525 + 1013904223
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		gm, gf := maskQuotes(s)
		wm, wf := maskQuotesQuadratic(s)
		if gm != wm || gf != wf {
			t.Fatalf("%q: got (%q, %q), want (%q, %q)", s, gm, gf, wm, wf)
		}
	}
}

// maskQuotes visits a linear number of positions: on adversarial texts (many openings
// that nothing closes, closing quotes that do not count) the bytes it visits stay within
// a small multiple of the text's length, and doubling the text doubles them.
func TestMaskQuotesLinear(t *testing.T) {
	for _, unit := range []string{" 'x", " \"x", " ‘x", " “x", " 'x' y'z", " 'a'b", " ‘a’b “c”d 'e'f \"g\"h", " 'x \"y ‘z “w"} {
		_, _, n1 := maskQuotesSteps(strings.Repeat(unit, 10000))
		_, _, n2 := maskQuotesSteps(strings.Repeat(unit, 20000))
		if l := 20000 * len(unit); n2 > 6*l || 10*n2 > 21*n1 {
			t.Errorf("%q: %d bytes visited for %d, %d for %d bytes", unit, n1, l/2, n2, l)
		}
	}
}

// A megabyte of text is read no further than its first MaxPhrase bytes, cut on a rune
// boundary: ReadPhrase and Parties take bounded time on any text.
func TestReadPhraseCapped(t *testing.T) {
	for _, unit := range []string{" 'x", " ‘x", "é", " A, "} {
		text := strings.Repeat(unit, 1<<20/len(unit)) + " by Late Party <late@x.com>"
		p := ReadPhrase(text)
		if len(p.Masked) > MaxPhrase || len(p.Masked) < MaxPhrase-3 {
			t.Errorf("%q: masked %d bytes, want the first %d", unit, len(p.Masked), MaxPhrase)
		}
		if !utf8.ValidString(p.Masked) {
			t.Errorf("%q: masked text cut inside a rune", unit)
		}
		if p.Actor != nil && p.Actor.Email == "late@x.com" {
			t.Errorf("%q: read past the cap: %+v", unit, p.Actor)
		}
		for _, q := range Parties(text) {
			if q.Email == "late@x.com" {
				t.Errorf("%q: Parties read past the cap", unit)
			}
		}
	}
	// Within the cap nothing changes; the same party twice (address in any case) is one.
	if ps := Parties("Ann <a@x.com>, Ann <A@X.com>, Bob, Ann <a@x.com>"); fmt.Sprint(ps) != "[{Ann a@x.com} {Bob }]" {
		t.Errorf("Parties: %v", ps)
	}
	if s := capText(strings.Repeat("a", MaxPhrase-1) + "é"); s != strings.Repeat("a", MaxPhrase-1) {
		t.Errorf("capText cut inside a rune: %q", s[len(s)-3:])
	}
}
