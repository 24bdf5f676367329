package mapkit

import (
	"fmt"
	"strings"
	"testing"

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
