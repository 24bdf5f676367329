package mapkit

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/auditstream/auditstream/schemas/ocsf"
)

// The e-signature providers say in free text who did what to whom: Constellation1's
// description ("Document 'Listing Agreement' sent to seller@example.com by Jane Doe"),
// Conga's data ("Signing session to signer : x@y.com(Name"), SigningHub's information
// value ("Mark Spencer"). ReadPhrase splits such a text into the one who acted (after
// "by"), the ones it was addressed to or taken from (after a recipient marker) and the
// document it names (in quotes); Parties reads a list of people. The actor is never
// taken from the recipients' part (docs/mapping.md, "Who did what to whom").

// Party is one person named in a text: a name, an e-mail address or both.
type Party struct{ Name, Email string }

// User is the party as an OCSF user (mapkit.User: an address alone is the name too).
func (p Party) User() *ocsf.User { return User(p.Name, p.Email, "") }

// same says whether the user is this party (same address, or same name when neither has
// an address).
func (p Party) same(u *ocsf.User) bool {
	if u == nil {
		return false
	}
	if p.Email != "" || u.EmailAddr != "" {
		return strings.EqualFold(p.Email, u.EmailAddr)
	}
	return p.Name != "" && p.Name == u.Name
}

// recipientMarkers are the phrasings that introduce the ones an entry was addressed to or
// acted upon, lower case, matched as whole words outside quotes; the earliest wins (the
// longest at one place).
var recipientMarkers = []string{
	"sent to", "resent to", "emailed to", "forwarded to", "shared with", "delegated to", "reassigned to",
	"recalled from", "to signer", "to signers", "to recipient", "to recipients",
}

// clauseEnds end a name: what follows is no longer part of it ("by Jane Doe on 3/15").
var clauseEnds = []string{"on", "at", "via", "using"}

// roleWords are the generic words that may stand before the people in a recipients' part
// ("sent to signer Jane Doe", "to signer : x@y.com") and are no party themselves.
var roleWords = []string{"signer", "signers", "recipient", "recipients", "user", "users", "the"}

// Phrase is a free-text entry read for its parties.
type Phrase struct {
	// Masked is the text with every quoted part blanked (same length, same offsets): the
	// verb and the markers are searched in it, never in a document's name.
	Masked string
	// Document is the first quoted part ('…', "…", ‘…’, “…”), the document acted on.
	Document string
	// By says whether the text has an actor's part ("… by X"); Actor is its first party
	// (nil: the text names nobody there).
	By    bool
	Actor *Party
	// Relation is the recipient marker as found, lower case ("sent to", "shared with"),
	// and Recipients the parties after it.
	Relation   string
	Recipients []Party
}

// ReadPhrase splits a text into its actor's part (after the last lower-case word "by"
// outside quotes; a capitalised "By" is part of a name), its recipients' part (after the
// first recipient marker, up to the actor's part when that follows) and its quoted
// document. An actor's part that goes on with "to" or "with" ("shared by Jane Doe with
// bob@x.com") ends there, and what follows is the recipients' part. Only the first
// MaxPhrase bytes (4 KiB, cut on a rune boundary) of the text are read: Masked is as long
// as that part, and parties or a document past it are not found.
func ReadPhrase(text string) Phrase {
	var p Phrase
	text = capText(text)
	p.Masked, p.Document = maskQuotes(text)
	low := asciiLower(p.Masked)
	by := lastWord(p.Masked, "by")
	mAt, mEnd := -1, -1
	for _, m := range recipientMarkers {
		if i := firstWord(low, m); i >= 0 && (mAt < 0 || i < mAt || i == mAt && i+len(m) > mEnd) {
			mAt, mEnd = i, i+len(m)
		}
	}
	// The actor's part is [a0, a1), the recipients' part [r0, r1) (empty when r0 == r1).
	a0, a1, r0, r1 := 0, 0, 0, 0
	switch {
	case by >= 0 && mAt >= 0 && mAt < by:
		r0, r1, a0, a1 = mEnd, by, by+2, len(text)
	case by >= 0 && mAt >= 0:
		a0, a1, r0, r1 = by+2, mAt, mEnd, len(text)
	case by >= 0:
		a0, a1 = by+2, len(text)
		for _, w := range []string{"to", "with"} {
			if i := firstWord(low[a0:], w); i >= 0 && a0+i < a1 {
				a1, r0, r1, p.Relation = a0+i, a0+i+len(w), len(text), w
			}
		}
	case mAt >= 0:
		r0, r1 = mEnd, len(text)
	}
	if mAt >= 0 {
		p.Relation = low[mAt:mEnd]
	}
	if by >= 0 {
		p.By = true
		if ps := Parties(p.Masked[a0:a1]); len(ps) > 0 {
			p.Actor = &ps[0]
		}
	}
	if r0 < r1 {
		p.Recipients = Parties(p.Masked[r0:r1])
	}
	if len(p.Recipients) == 0 {
		p.Relation = ""
	}
	return p
}

// Parties reads a list of people: parts separated by ',', ';' or the word "and" (outside
// brackets), each an address ("a@x.com"), a name with an address in angle brackets or
// parentheses ("Jane Doe <jane@x.com>", "Jane Doe (jane@x.com)", "jane@x.com (Jane Doe",
// the closing parenthesis may be missing) or a name alone. A name alone counts only when it
// starts with a capital letter ("Mark Spencer", not "signer"). A name ends at the words
// "on", "at", "via", "using"; leading role words ("signer", "recipients", ":") are dropped.
// The same party named twice is listed once. Only the first MaxPhrase bytes (4 KiB) of the
// text are read.
func Parties(text string) []Party {
	var out []Party
	seen := map[Party]struct{}{}
	text = capText(text)
	for _, part := range splitList(text) {
		p, ok := party(part)
		if !ok {
			continue
		}
		// Addresses are ASCII (ocsf.ValidEmail): lowering A-Z is strings.EqualFold's match.
		k := Party{Name: p.Name, Email: asciiLower(p.Email)}
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			out = append(out, p)
		}
	}
	return out
}

// MaxPhrase is how much of a text ReadPhrase and Parties read: the first 4 KiB, cut on a
// rune boundary. Provider texts name a handful of people in a sentence; a longer one
// (hostile, or a whole document pasted in) is read no further, so that reading it takes
// bounded time.
const MaxPhrase = 4 << 10

// capText is the part of text ReadPhrase and Parties read (MaxPhrase).
func capText(text string) string {
	if len(text) <= MaxPhrase {
		return text
	}
	n := MaxPhrase
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return text[:n]
}

// splitList cuts a list at ',', ';' and the word "and", outside brackets.
func splitList(text string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '(', '<', '[':
			depth++
		case ')', '>', ']':
			if depth > 0 {
				depth--
			}
		case ',', ';':
			if depth == 0 {
				parts, start = append(parts, text[start:i]), i+1
			}
		case 'a':
			if depth == 0 && strings.HasPrefix(text[i:], "and") && wordAt(text, i, 3) {
				parts, start = append(parts, text[start:i]), i+3
				i += 2
			}
		}
	}
	return append(parts, text[start:])
}

// party reads one part of a list.
func party(part string) (Party, bool) {
	// Brackets stand apart: "x@y.com(Name" is "x@y.com ( Name".
	fields := strings.FieldsFunc(part, func(r rune) bool { return unicode.IsSpace(r) })
	var words []string
	for _, f := range fields {
		for f != "" {
			i := strings.IndexAny(f, "()<>[]")
			if i < 0 {
				words = append(words, f)
				break
			}
			if i > 0 {
				words = append(words, f[:i])
			}
			f = f[i+1:]
		}
	}
	var p Party
	var name []string
	for i, w := range words {
		if strings.IndexByte(w, '@') >= 0 {
			if e := strings.Trim(w, "{},;:\"'.`"); p.Email == "" && ocsf.ValidEmail(e) {
				p.Email = e
			}
			continue // an address (or what is no valid one) is never part of a name
		}
		if containsWord(clauseEnds, w) && len(name) > 0 {
			break
		}
		if len(name) == 0 && (w == ":" || w == "-" || containsWord(roleWords, strings.TrimRight(strings.ToLower(w), ":")) && i+1 < len(words)) {
			continue
		}
		name = append(name, w)
	}
	p.Name = strings.Trim(strings.Join(name, " "), " .,;:-'\"")
	if p.Name == "" && p.Email == "" {
		return p, false
	}
	if p.Email == "" {
		r, _ := utf8.DecodeRuneInString(p.Name)
		if !unicode.IsUpper(r) {
			return p, false
		}
	}
	return p, true
}

func containsWord(list []string, w string) bool {
	for _, x := range list {
		if x == w {
			return true
		}
	}
	return false
}

// maskQuotes blanks every quoted part of s (an opening quote at the start or after a space
// or bracket, its closing quote at the end or before a space or punctuation, so that
// "O'Brien" is no quote) and returns the first one's text. It takes time linear in len(s).
func maskQuotes(s string) (masked, first string) {
	masked, first, _ = maskQuotesSteps(s)
	return masked, first
}

// quotePairs are the quotes maskQuotes knows: opening and closing.
var quotePairs = [...][2]string{{"'", "'"}, {"\"", "\""}, {"‘", "’"}, {"“", "”"}}

// maskQuotesSteps is maskQuotes counting the bytes it visits (the tests hold it linear).
// Whether a closing quote counts depends only on what follows it, so once a search for a
// quote type's closing quote has run to the end of s, no later opening of that type can
// close either: that type is not searched again. A search that finds its closing quote
// resumes after it, so every byte is searched at most once per quote type.
func maskQuotesSteps(s string) (masked, first string, steps int) {
	b := []byte(s)
	var noClose [len(quotePairs)]bool
	for i := 0; i < len(s); {
		steps++
		opened := false
		for n, q := range quotePairs {
			if noClose[n] || !strings.HasPrefix(s[i:], q[0]) || i > 0 && !strings.ContainsRune(" \t([<:", rune(s[i-1])) {
				continue
			}
			from := i + len(q[0])
			for j := from; j < len(s); {
				k := strings.Index(s[j:], q[1])
				if k < 0 {
					steps += len(s) - j
					break
				}
				end := j + k + len(q[1])
				steps += end - j
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
			noClose[n] = true // nothing after from closes this type
		}
		if !opened {
			i++
		}
	}
	return string(b), first, steps
}

// asciiLower lowers A-Z only: offsets stay those of s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// wordAt says whether s[i:i+n] stands as a whole word (no letter or digit either side).
func wordAt(s string, i, n int) bool {
	isW := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
	}
	return (i == 0 || !isW(s[i-1])) && (i+n == len(s) || !isW(s[i+n]))
}

// firstWord is the offset of the first whole-word occurrence of w in s, or -1.
func firstWord(s, w string) int {
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], w)
		if i < 0 {
			return -1
		}
		if wordAt(s, off+i, len(w)) {
			return off + i
		}
		off += i + 1
	}
	return -1
}

// lastWord is the offset of the last whole-word occurrence of w in s, or -1.
func lastWord(s, w string) int {
	for end := len(s); end > 0; {
		i := strings.LastIndex(s[:end], w)
		if i < 0 {
			return -1
		}
		if wordAt(s, i, len(w)) {
			return i
		}
		end = i + len(w) - 1
	}
	return -1
}
