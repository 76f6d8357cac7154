#!/usr/bin/env python3
"""Generates page.html: a ~150 KB product/news style page used by the
benchmarks. Deterministic (seeded) so figures are reproducible."""
import random, json
r = random.Random(42)
words = ("the of and to in is for on that with as by at from this be are was it an or have not "
 "product price shipping cart account order return policy customer review rating stars delivery "
 "free fast new sale discount offer limited edition color size material cotton wool leather steel "
 "design quality warranty support contact help center store location opening hours weekend holiday "
 "article news world business technology science health sports culture travel food opinion analysis "
 "report market shares growth quarter revenue profit forecast investor government policy election "
 "climate energy solar wind battery electric vehicle city transport housing education university "
 "research study data privacy security cloud software hardware device mobile app update release").split()
def sent(n): return " ".join(r.choice(words) for _ in range(n)).capitalize() + "."
POOL = [sent(r.randint(8, 20)) for _ in range(60)]
def para(): return " ".join(r.choice(POOL) for _ in range(r.randint(2, 5)))
out = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
 '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
 '<title>Example Store &mdash; %s</title>\n' % sent(5),
 '<meta name="description" content="%s">\n' % sent(20)]
for i in range(12):
    out.append('<link rel="preload" href="/static/font-%d.woff2" as="font" type="font/woff2" crossorigin>\n' % i)
for i in range(6):
    out.append('<link rel="stylesheet" href="/static/css/chunk-%08x.css">\n' % r.getrandbits(32))
out.append('<style>\n')
for i in range(220):
    out.append('.c%d{margin:%dpx %dpx;padding:%dpx;color:#%06x;font-size:%.2frem}\n' % (i, r.randint(0,32), r.randint(0,32), r.randint(0,16), r.getrandbits(24), r.uniform(0.7,2)))
out.append('</style>\n<script>window.__STATE__=')
state = {"products": [{"id": r.getrandbits(40), "name": sent(4), "price": round(r.uniform(1, 500), 2),
          "tags": [r.choice(words) for _ in range(4)], "stock": r.randint(0, 99)} for _ in range(120)]}
out.append(json.dumps(state, separators=(",", ":")))
out.append(';</script>\n<script src="/static/js/app.%08x.js" defer></script>\n</head>\n' % r.getrandbits(32))
out.append('<body class="page home">\n<header class="site"><nav><ul>\n')
for i in range(40):
    out.append('<li class="c%d"><a href="/category/%s-%d">%s</a></li>\n' % (i, r.choice(words), i, sent(2)[:-1]))
out.append('</ul></nav></header>\n<main>\n')
for i in range(60):
    out.append('<article class="card c%d" data-id="%d">\n<h2><a href="/p/%d">%s</a></h2>\n' % (r.randint(0,219), r.getrandbits(32), r.getrandbits(32), sent(6)[:-1]))
    out.append('<img src="/img/%08x.jpg" alt="%s" width="320" height="200" loading="lazy">\n' % (r.getrandbits(32), sent(4)[:-1]))
    for _ in range(r.randint(1, 3)):
        out.append('<p>%s</p>\n' % para())
    out.append('<div class="meta"><span class="rating" aria-label="rating">&#9733;&#9733;&#9733;&#9733;&#9734;</span> <span class="reviews">%d reviews</span> <span class="ship">Free shipping on orders over $50</span></div>\n' % r.randint(1, 999))
    out.append('<ul class="specs">' + "".join('<li>%s: %s</li>' % (r.choice(words), r.choice(words)) for _ in range(5)) + '</ul>\n')
    out.append('<button type="button" class="btn buy" data-sku="%d">Add to cart &ndash; $%.2f</button>\n</article>\n' % (r.getrandbits(24), r.uniform(1, 500)))
out.append('</main>\n<footer><table>\n')
for i in range(30):
    out.append('<tr>' + "".join('<td><a href="/info/%s">%s</a></td>' % (r.choice(words), r.choice(words)) for _ in range(4)) + '</tr>\n')
out.append('</table><p>&copy; 2026 Example Store</p></footer>\n</body>\n</html>\n')
s = "".join(out)
# Trim or pad to roughly 150 KB with more articles' worth of text.
while len(s.encode()) < 150_000:
    s = s.replace('</main>', '<section><p>%s</p></section>\n</main>' % para(), 1)
open("page.html", "w").write(s)
print(len(s.encode()))
