package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Config holds the browser-side settings. The two sections are mounted at the
// top-level YAML keys "recording" and "banner".
type Config struct {
	Recording RecordingConfig `yaml:"recording"`
	Banner    BannerConfig    `yaml:"banner"`
}

// RecordingConfig says what the recorder captures and how it uploads.
// Masking is on by default; the selector lists extend the built-in ones
// (replay-*, data-replay-*, sentry-*), they never replace them.
type RecordingConfig struct {
	// MaskAllText masks every text node unless under an unmask selector.
	MaskAllText bool `yaml:"mask_all_text"`
	// MaskAllInputs masks every form value unless under an unmask selector;
	// passwords, hidden inputs and cc-*/one-time-code fields stay masked always.
	MaskAllInputs bool `yaml:"mask_all_inputs"`
	// MaskSelectors are CSS selectors whose text is always masked.
	MaskSelectors []string `yaml:"mask_selectors"`
	// UnmaskSelectors are CSS selectors whose text is shown.
	UnmaskSelectors []string `yaml:"unmask_selectors"`
	// BlockSelectors are CSS selectors replaced by same-size placeholders
	// (media elements are always blocked).
	BlockSelectors []string `yaml:"block_selectors"`
	// IgnoreSelectors are CSS selectors whose input events are not recorded.
	IgnoreSelectors []string `yaml:"ignore_selectors"`
	// QueryAllowList names the query parameters whose values URLs keep.
	QueryAllowList []string `yaml:"query_allow_list"`
	// SampleRate is the share of sessions recorded, 0 to 1.
	SampleRate float64 `yaml:"sample_rate"`
	// IdleTimeout ends a session after this long without interaction.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxDuration ends a session this long after it started.
	MaxDuration time.Duration `yaml:"max_duration"`
	// CaptureConsole records console log/info/warn/error calls.
	CaptureConsole bool `yaml:"capture_console"`
	// CaptureNetwork records fetch/XHR metadata (no headers, no bodies).
	CaptureNetwork bool `yaml:"capture_network"`
	// BatchInterval is how often buffered events are uploaded.
	BatchInterval time.Duration `yaml:"batch_interval"`
	// BatchBytes uploads early once this many bytes of JSON are buffered.
	BatchBytes int `yaml:"batch_bytes"`
	// MouseMoveGap ends a pointer movement after this long without motion;
	// only its start and end are recorded.
	MouseMoveGap time.Duration `yaml:"mouse_move_gap"`
}

// BannerConfig configures the consent banner.
type BannerConfig struct {
	// NoticeURL links the site's privacy notice: an absolute http(s) URL or a
	// path starting with "/". Empty hides the link.
	NoticeURL string `yaml:"notice_url"`
	// DefaultLanguage is used when neither the page nor the browser asks for a
	// language that has texts.
	DefaultLanguage string `yaml:"default_language"`
	// Texts overrides the built-in texts (en, de, fr, es) field by field, or
	// adds a language (then every field is required).
	Texts map[string]BannerText `yaml:"texts"`
	// PrivacyChoices shows a small button that reopens the banner after a decision.
	PrivacyChoices bool `yaml:"privacy_choices"`
}

// BannerText is the banner's wording in one language.
type BannerText struct {
	Title      string `yaml:"title" json:"title"`
	Body       string `yaml:"body" json:"body"`
	OptOutBody string `yaml:"opt_out_body" json:"optOutBody"`
	Accept     string `yaml:"accept" json:"accept"`
	Reject     string `yaml:"reject" json:"reject"`
	Notice     string `yaml:"notice" json:"notice"`
	Choices    string `yaml:"choices" json:"choices"`
}

// DefaultConfig returns private-by-default settings.
func DefaultConfig() Config {
	return Config{
		Recording: RecordingConfig{
			MaskAllText:    true,
			MaskAllInputs:  true,
			SampleRate:     1,
			IdleTimeout:    15 * time.Minute,
			MaxDuration:    60 * time.Minute,
			CaptureConsole: true,
			CaptureNetwork: true,
			BatchInterval:  5 * time.Second,
			BatchBytes:     1 << 20,
			MouseMoveGap:   500 * time.Millisecond,
		},
		Banner: BannerConfig{
			NoticeURL:       "/privacy",
			DefaultLanguage: "en",
		},
	}
}

var (
	languageRE   = regexp.MustCompile(`^[a-z]{2,3}$`)
	queryNameRE  = regexp.MustCompile(`^[\w.\-\[\]]{1,40}$`)
	forbiddenSel = regexp.MustCompile(`[{}<>;\\]`)
)

const maxTextLen = 1000

// Validate reports the first setting that cannot work, naming its YAML key.
func (c Config) Validate() error {
	if err := c.Recording.Validate(); err != nil {
		return fmt.Errorf("recording.%w", err)
	}
	if err := c.Banner.Validate(); err != nil {
		return fmt.Errorf("banner.%w", err)
	}
	return nil
}

// Validate reports the first recording setting that cannot work.
func (r RecordingConfig) Validate() error {
	lists := []struct {
		name string
		sels []string
	}{
		{"mask_selectors", r.MaskSelectors},
		{"unmask_selectors", r.UnmaskSelectors},
		{"block_selectors", r.BlockSelectors},
		{"ignore_selectors", r.IgnoreSelectors},
	}
	for _, l := range lists {
		for i, s := range l.sels {
			if strings.TrimSpace(s) == "" || len(s) > 200 || forbiddenSel.MatchString(s) {
				return fmt.Errorf("%s[%d]: %q must be a CSS selector of at most 200 characters without { } < > ; or \\", l.name, i, s)
			}
		}
	}
	for i, q := range r.QueryAllowList {
		if !queryNameRE.MatchString(q) {
			return fmt.Errorf("query_allow_list[%d]: %q must be a parameter name of 1-40 letters, digits, _ . - [ ]", i, q)
		}
	}
	switch {
	case !(r.SampleRate >= 0 && r.SampleRate <= 1):
		return fmt.Errorf("sample_rate: %v must be between 0 and 1", r.SampleRate)
	case r.IdleTimeout < 10*time.Second || r.IdleTimeout > 24*time.Hour:
		return fmt.Errorf("idle_timeout: %v must be between 10s and 24h", r.IdleTimeout)
	case r.MaxDuration < time.Minute || r.MaxDuration > 24*time.Hour:
		return fmt.Errorf("max_duration: %v must be between 1m and 24h", r.MaxDuration)
	case r.BatchInterval < time.Second || r.BatchInterval > time.Minute:
		return fmt.Errorf("batch_interval: %v must be between 1s and 1m", r.BatchInterval)
	case r.BatchBytes < 16<<10 || r.BatchBytes > 8<<20:
		return fmt.Errorf("batch_bytes: %d must be between 16384 and 8388608", r.BatchBytes)
	case r.MouseMoveGap < 50*time.Millisecond || r.MouseMoveGap > 10*time.Second:
		return fmt.Errorf("mouse_move_gap: %v must be between 50ms and 10s", r.MouseMoveGap)
	}
	return nil
}

// Validate reports the first banner setting that cannot work.
func (b BannerConfig) Validate() error {
	if b.NoticeURL != "" && !validNoticeURL(b.NoticeURL) {
		return fmt.Errorf("notice_url: %q must be an absolute http(s) URL or a path starting with /", b.NoticeURL)
	}
	for lang, t := range b.Texts {
		if !languageRE.MatchString(lang) {
			return fmt.Errorf("texts: language %q must be a lower-case 2 or 3 letter code such as en", lang)
		}
		for _, f := range t.fields() {
			if len(f.value) > maxTextLen {
				return fmt.Errorf("texts.%s.%s: must be at most %d characters", lang, f.name, maxTextLen)
			}
		}
	}
	texts := b.effectiveTexts()
	for lang, t := range texts {
		for _, f := range t.fields() {
			if strings.TrimSpace(f.value) == "" {
				return fmt.Errorf("texts.%s.%s: must not be empty (no built-in text for %q)", lang, f.name, lang)
			}
		}
	}
	if _, ok := texts[b.DefaultLanguage]; !ok {
		return fmt.Errorf("default_language: %q has no texts; use one of %s or add banner.texts.%s", b.DefaultLanguage, strings.Join(sortedKeys(texts), ", "), b.DefaultLanguage)
	}
	return nil
}

func validNoticeURL(s string) bool {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

type textField struct{ name, value string }

func (t BannerText) fields() []textField {
	return []textField{
		{"title", t.Title}, {"body", t.Body}, {"opt_out_body", t.OptOutBody}, {"accept", t.Accept},
		{"reject", t.Reject}, {"notice", t.Notice}, {"choices", t.Choices},
	}
}

// merge returns t with every empty field taken from base.
func (t BannerText) merge(base BannerText) BannerText {
	pick := func(v, d string) string {
		if v != "" {
			return v
		}
		return d
	}
	return BannerText{
		Title: pick(t.Title, base.Title), Body: pick(t.Body, base.Body), OptOutBody: pick(t.OptOutBody, base.OptOutBody),
		Accept: pick(t.Accept, base.Accept), Reject: pick(t.Reject, base.Reject), Notice: pick(t.Notice, base.Notice),
		Choices: pick(t.Choices, base.Choices),
	}
}

// effectiveTexts merges the configured overrides over the built-in texts.
func (b BannerConfig) effectiveTexts() map[string]BannerText {
	out := builtinTexts()
	for lang, t := range b.Texts {
		out[lang] = t.merge(out[lang])
	}
	return out
}

// Language returns the language whose texts the banner shows for the
// requested tag ("de-AT" → "de"), falling back to the default language, the
// same way gate.js chooses.
func (b BannerConfig) Language(tag string) string {
	primary := strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(primary, "-_"); i >= 0 {
		primary = primary[:i]
	}
	texts := b.effectiveTexts()
	if _, ok := texts[primary]; ok {
		return primary
	}
	return b.DefaultLanguage
}

// NoticeHash returns the SHA-256 (hex) of the notice shown in the given
// language: the banner's title, both body variants, button labels, notice
// link label and notice URL, each followed by a newline. Consent records
// store it to prove which wording the visitor saw.
func (b BannerConfig) NoticeHash(lang string) string {
	l := b.Language(lang)
	t := b.effectiveTexts()[l]
	h := sha256.New()
	for _, f := range t.fields() {
		h.Write([]byte(f.value))
		h.Write([]byte{'\n'})
	}
	h.Write([]byte(b.NoticeURL))
	h.Write([]byte{'\n'})
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// builtinTexts returns fresh copies of the built-in banner texts.
func builtinTexts() map[string]BannerText {
	return map[string]BannerText{
		"en": {
			Title:      "Session recording",
			Body:       "With your permission we record how you use this site (clicks, scrolling, page layout) to find and fix problems. Text and input are masked in your browser before anything is sent. You can change your mind at any time.",
			OptOutBody: "We record how you use this site (clicks, scrolling, page layout) to find and fix problems. Text and input are masked in your browser before anything is sent. You can decline now or at any time.",
			Accept:     "Accept",
			Reject:     "Reject",
			Notice:     "Privacy notice",
			Choices:    "Privacy choices",
		},
		"de": {
			Title:      "Sitzungsaufzeichnung",
			Body:       "Mit Ihrer Erlaubnis zeichnen wir auf, wie Sie diese Website nutzen (Klicks, Scrollen, Seitenaufbau), um Fehler zu finden und zu beheben. Texte und Eingaben werden in Ihrem Browser unkenntlich gemacht, bevor etwas gesendet wird. Sie können Ihre Entscheidung jederzeit ändern.",
			OptOutBody: "Wir zeichnen auf, wie Sie diese Website nutzen (Klicks, Scrollen, Seitenaufbau), um Fehler zu finden und zu beheben. Texte und Eingaben werden in Ihrem Browser unkenntlich gemacht, bevor etwas gesendet wird. Sie können jetzt oder jederzeit ablehnen.",
			Accept:     "Akzeptieren",
			Reject:     "Ablehnen",
			Notice:     "Datenschutzhinweis",
			Choices:    "Datenschutz-Einstellungen",
		},
		"fr": {
			Title:      "Enregistrement de session",
			Body:       "Avec votre accord, nous enregistrons la façon dont vous utilisez ce site (clics, défilement, mise en page) afin de trouver et corriger des problèmes. Les textes et saisies sont masqués dans votre navigateur avant tout envoi. Vous pouvez changer d'avis à tout moment.",
			OptOutBody: "Nous enregistrons la façon dont vous utilisez ce site (clics, défilement, mise en page) afin de trouver et corriger des problèmes. Les textes et saisies sont masqués dans votre navigateur avant tout envoi. Vous pouvez refuser maintenant ou à tout moment.",
			Accept:     "Accepter",
			Reject:     "Refuser",
			Notice:     "Politique de confidentialité",
			Choices:    "Choix de confidentialité",
		},
		"es": {
			Title:      "Grabación de la sesión",
			Body:       "Con su permiso, registramos cómo usa este sitio (clics, desplazamiento, diseño de la página) para encontrar y corregir problemas. Los textos y datos introducidos se ocultan en su navegador antes de enviar nada. Puede cambiar de opinión en cualquier momento.",
			OptOutBody: "Registramos cómo usa este sitio (clics, desplazamiento, diseño de la página) para encontrar y corregir problemas. Los textos y datos introducidos se ocultan en su navegador antes de enviar nada. Puede rechazarlo ahora o en cualquier momento.",
			Accept:     "Aceptar",
			Reject:     "Rechazar",
			Notice:     "Aviso de privacidad",
			Choices:    "Opciones de privacidad",
		},
	}
}
