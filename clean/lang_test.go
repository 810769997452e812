package clean

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/internal/peertest"
)

func TestLangID(t *testing.T) {
	m, err := DefaultLangID()
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{
		"The weather is nice today and we are going to the park.":            "en",
		"Le temps est beau aujourd'hui et nous allons au parc.":              "fr",
		"Das Wetter ist heute schön und wir gehen in den Park.":              "de",
		"El tiempo es agradable hoy y vamos al parque.":                      "es",
		"Погода сегодня хорошая, и мы идём в парк.":                          "ru",
		"今日は天気が良いので公園に行きます。":                                                 "ja",
		"今天天气很好，我们去公园。":                                                      "zh",
		"Avui fa bon temps i anem al parc amb els amics de l'escola.":        "ca",
		"Vandaag is het mooi weer en we gaan naar het park met de kinderen.": "nl",
	} {
		p := m.Predict(text)
		var sum float64
		for _, s := range p {
			sum += s.Score
		}
		if p[0].Lang != want || math.Abs(sum-1) > 0.01 || len(p) != 176 {
			t.Errorf("%q: %s %.3f (sum %.4f, %d labels), want %s", text, p[0].Lang, p[0].Score, sum, len(p), want)
		}
	}
}

func TestLangFilter(t *testing.T) {
	m, _ := DefaultLangID()
	f := &LangFilter{Model: m, Langs: []string{"en", "de"}, Threshold: DefaultLangThreshold}
	for text, keep := range map[string]bool{
		"The weather is nice today and we are going to the park.": true,
		"Das Wetter ist heute schön und wir gehen in den Park.":   true,
		"Le temps est beau aujourd'hui et nous allons au parc.":   false,
		"今日は天気が良いので公園に行きます。":                                      false,
	} {
		d := &docio.Document{Text: text}
		ok, reason := f.Filter(d)
		if ok != keep || (!ok && reason != ReasonLang) || d.Metadata["lang"] == nil || d.Metadata["lang_score"] == nil {
			t.Errorf("%q: keep %v %q %v", text, ok, reason, d.Metadata)
		}
	}
}

// langSample returns texts of the test corpus: whole documents and their
// paragraphs, in the corpus's 26 languages.
func langSample(t *testing.T, dir string, n int) []string {
	f, err := os.Open(filepath.Join(dir, "corpus", "docs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := docio.NewReader(f, "docs.jsonl")
	var texts []string
	for len(texts) < n {
		d, err := r.Next()
		if err != nil {
			break
		}
		texts = append(texts, d.Text)
		for _, p := range strings.Split(d.Text, "\n") {
			if len(p) > 40 && len(texts) < n {
				texts = append(texts, p)
			}
		}
	}
	return texts
}

// The same languages and probabilities as fastText itself.
func TestLangPeer(t *testing.T) {
	dir := peertest.Dir(t)
	texts := langSample(t, dir, 3000)
	var in bytes.Buffer
	for _, s := range texts {
		b, _ := json.Marshal(s)
		in.Write(append(b, '\n'))
	}
	_, self, _, _ := runtime.Caller(0)
	cmd := exec.Command(peertest.Python(t), filepath.Join(filepath.Dir(self), "..", "scripts", "lang_peer.py"))
	cmd.Stdin = &in
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("lang_peer.py: %v\n%s", err, errb.Bytes())
	}
	m, _ := DefaultLangID()
	sc := bufio.NewScanner(&out)
	i, labelDiff, maxDiff := 0, 0, 0.0
	for ; sc.Scan(); i++ {
		var peer [2]any
		if err := json.Unmarshal(sc.Bytes(), &peer); err != nil {
			t.Fatal(err)
		}
		lang, score := m.Detect(strings.ReplaceAll(texts[i], "\n", " "))
		if lang != peer[0].(string) {
			labelDiff++
			t.Logf("%q: %s %.5f, fastText %s %.5f", texts[i][:min(60, len(texts[i]))], lang, score, peer[0], peer[1])
			continue
		}
		maxDiff = max(maxDiff, math.Abs(score-peer[1].(float64)))
	}
	if i != len(texts) {
		t.Fatalf("%d answers for %d texts", i, len(texts))
	}
	t.Logf("%d texts: %d labels differ, largest probability difference %.2g", len(texts), labelDiff, maxDiff)
	if labelDiff > 0 || maxDiff > 1e-4 {
		t.Errorf("%d labels differ from fastText's, probabilities by up to %.2g", labelDiff, maxDiff)
	}
}

func BenchmarkLangID(b *testing.B) {
	m, _ := DefaultLangID()
	text := strings.Repeat("The weather is nice today and we are going to the park with the children. ", 40)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		m.Predict(text)
	}
}
