/* flame.c - the call paths as collapsed stacks, speedscope and an SVG
 * flame graph (search, click-to-zoom and reset in a small inline script,
 * one self-contained file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_int.h"
#include "profile/table.h"

/* ---- collapsed stacks -------------------------------------------------------------- */

void export_collapsed(const profile_t *p, sbuf_t *out)
{
    uint32_t *chain = xmalloc(sizeof(*chain) * EXPORT_MAX_FRAMES);
    for (uint32_t i = 1; i < profile_npaths(p); i++) {
        double us = pf_sec(export_path_tottime(profile_path(p, i))) * 1e6;
        if (us < 0.5)
            continue;
        uint32_t n = profile_path_chain(p, i, chain, EXPORT_MAX_FRAMES);
        for (uint32_t k = 0; k < n; k++) {
            const char *s = profile_func_std(p, profile_path(p, chain[k])->func);
            if (k)
                sbuf_addc(out, ';');
            size_t at = out->len;
            sbuf_adds(out, s);
            for (size_t j = at; j < out->len; j++)
                if (out->data[j] == ';' || out->data[j] == '\n')
                    out->data[j] = ':';
        }
        sbuf_printf(out, " %.0f\n", us);
    }
    free(chain);
}

/* ---- speedscope ---------------------------------------------------------------------- */

static void title_of(const profile_t *p, char *buf, size_t len)
{
    const pf_meta_t *m = profile_meta_c(p);
    if (m->nprocs > 1)
        snprintf(buf, len, "%u processes%s%s", m->nprocs, m->job[0] ? ", job " : "", m->job);
    else
        snprintf(buf, len, "pid %d", m->pid);
}

void export_speedscope(const profile_t *p, sbuf_t *out)
{
    char title[160];
    title_of(p, title, sizeof(title));
    uint32_t nf = profile_nfuncs(p);
    jw_t w;
    jw_init(&w, out);
    jw_obj(&w);
    jw_kstrz(&w, "$schema", "https://www.speedscope.app/file-format-schema.json");
    jw_kstrz(&w, "exporter", "ulma");
    jw_kstrz(&w, "name", title);
    jw_ku64(&w, "activeProfileIndex", 0);
    jw_key(&w, "shared");
    jw_obj(&w);
    jw_key(&w, "frames");
    jw_arr(&w);
    for (uint32_t i = 0; i < nf; i++) {
        const pf_func_t *f = profile_func(p, i);
        jw_obj(&w);
        jw_kstr(&w, "name", f->qualname.s, f->qualname.len);
        jw_kstr(&w, "file", f->file.s, f->file.len);
        jw_ku64(&w, "line", f->line);
        jw_obj_end(&w);
    }
    jw_obj(&w);
    jw_kstrz(&w, "name", "[unknown]");
    jw_obj_end(&w);
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_key(&w, "profiles");
    jw_arr(&w);
    jw_obj(&w);
    jw_kstrz(&w, "type", "sampled");
    jw_kstrz(&w, "name", title);
    jw_kstrz(&w, "unit", "seconds");
    jw_ku64(&w, "startValue", 0);
    jw_ksec(&w, "endValue", profile_shown_total_ns(p));
    uint32_t *chain = xmalloc(sizeof(*chain) * EXPORT_MAX_FRAMES);
    jw_key(&w, "samples");
    jw_arr(&w);
    for (uint32_t i = 1; i < profile_npaths(p); i++) {
        if (export_path_tottime(profile_path(p, i)) <= 0)
            continue;
        uint32_t n = profile_path_chain(p, i, chain, EXPORT_MAX_FRAMES);
        jw_arr(&w);
        for (uint32_t k = 0; k < n; k++) {
            uint32_t f = profile_path(p, chain[k])->func;
            jw_u64(&w, f < nf ? f : nf);
        }
        jw_arr_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "weights");
    jw_arr(&w);
    for (uint32_t i = 1; i < profile_npaths(p); i++) {
        int64_t tot = export_path_tottime(profile_path(p, i));
        if (tot > 0)
            jw_sec(&w, tot);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_arr_end(&w);
    jw_obj_end(&w);
    sbuf_addc(out, '\n');
    free(chain);
}

/* ---- SVG flame graph ------------------------------------------------------------------ */

static void svg_text(sbuf_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '<')
            sbuf_adds(out, "&lt;");
        else if (c == '>')
            sbuf_adds(out, "&gt;");
        else if (c == '&')
            sbuf_adds(out, "&amp;");
        else if (c == '"')
            sbuf_adds(out, "&quot;");
        else if ((unsigned char)c < 0x20)
            sbuf_addc(out, ' ');
        else
            sbuf_addc(out, c);
    }
}

/* The script: frames are <g class="f"> with data-x, data-w (fractions of
 * the full width) and data-d (depth); click zooms, "Reset Zoom" or Esc
 * resets, "Search" or Ctrl-F highlights frames whose name matches a
 * regular expression and prints the share of time they cover. */
static const char svg_script[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "var W=1200,X0=10,F=[],Z=null,S=null;\n"
    "function el(id){return document.getElementById(id);}\n"
    "function init(){var g=document.getElementsByClassName('f');\n"
    " for(var i=0;i<g.length;i++){var e=g[i];F.push({g:e,r:e.getElementsByTagName('rect')[0],"
    "t:e.getElementsByTagName('text')[0],x:+e.getAttribute('data-x'),"
    "w:+e.getAttribute('data-w'),d:+e.getAttribute('data-d'),n:e.getAttribute('data-n'),"
    "c:e.getElementsByTagName('rect')[0].getAttribute('fill')});"
    "e.onclick=(function(f){return function(){zoom(f);};})(F[i]);}\n"
    " el('reset').onclick=reset;el('search').onclick=search;\n"
    " document.addEventListener('keydown',function(ev){if(ev.key==='Escape')reset();"
    "if((ev.ctrlKey||ev.metaKey)&&ev.key==='f'){ev.preventDefault();search();}});}\n"
    "function place(f,x,w,show,dim){f.g.style.display=show?'':'none';if(!show)return;\n"
    " f.r.setAttribute('x',(X0+x).toFixed(2));f.r.setAttribute('width',w.toFixed(2));\n"
    " f.g.style.opacity=dim?'0.5':'1';if(!f.t)return;var fit=Math.floor((w-4)/6.6);\n"
    " f.t.setAttribute('x',(X0+x+2).toFixed(2));\n"
    " f.t.textContent=fit<3?'':(f.n.length>fit?f.n.substring(0,fit-2)+'..':f.n);}\n"
    "function zoom(z){Z=z;var e=1e-9;for(var i=0;i<F.length;i++){var f=F[i];\n"
    " if(f.d>=z.d&&f.x>=z.x-e&&f.x+f.w<=z.x+z.w+e)place(f,(f.x-z.x)/z.w*W,f.w/z.w*W,1,0);\n"
    " else if(f.d<z.d&&f.x<=z.x+e&&f.x+f.w>=z.x+z.w-e)place(f,0,W,1,1);\n"
    " else place(f,0,0,0,0);}el('reset').style.display='';}\n"
    "function reset(){Z=null;for(var i=0;i<F.length;i++)place(F[i],F[i].x*W,F[i].w*W,1,0);"
    "el('reset').style.display='none';}\n"
    "function search(){var t=prompt('Search (a regular expression):',S||'');"
    "if(t===null)return;S=t;var re=null;try{re=new RegExp(t);}catch(x){alert(x);return;}\n"
    " var iv=[];for(var i=0;i<F.length;i++){var f=F[i],m=t!==''&&re.test(f.n);\n"
    "  f.r.setAttribute('fill',m?'rgb(230,0,230)':f.c);if(m)iv.push([f.x,f.x+f.w]);}\n"
    " iv.sort(function(a,b){return a[0]-b[0];});var sum=0,hi=-1;\n"
    " for(var k=0;k<iv.length;k++){var a=Math.max(iv[k][0],hi);if(iv[k][1]>a)sum+=iv[k][1]-a;"
    "hi=Math.max(hi,iv[k][1]);}\n"
    " el('matched').textContent=t===''?'':'Matched: '+(100*sum).toFixed(1)+'%';}\n"
    "init();\n"
    "]]></script>\n";

#define SVG_MAX_FRAMES 50000u

void export_svg(const profile_t *p, sbuf_t *out)
{
    const double W = 1200.0, H = 16.0, top = 40.0;
    uint32_t nn = profile_npaths(p);
    double *x = xcalloc(nn, sizeof(double)), *next = xcalloc(nn, sizeof(double));
    uint32_t *depth = xcalloc(nn, sizeof(uint32_t));
    double total = 0;
    for (uint32_t i = 1; i < nn; i++)
        if (profile_path(p, i)->parent == 0 && export_path_cumtime(profile_path(p, i)) > 0)
            total += (double)export_path_cumtime(profile_path(p, i));
    uint32_t maxd = 0, nshown = 0;
    /* parents come before their children: one pass lays out the tree */
    for (uint32_t i = 1; i < nn; i++) {
        const pf_path_t *pa = profile_path(p, i);
        uint32_t par = pa->parent < i ? pa->parent : 0;
        depth[i] = depth[par] + 1;
        x[i] = next[par];
        double cum = (double)export_path_cumtime(pa);
        double w = total > 0 && cum > 0 ? cum / total : 0;
        next[par] += w;
        next[i] = x[i];
        if (w * W >= 0.1 && depth[i] > maxd)
            maxd = depth[i];
    }
    if (maxd > 2000)
        maxd = 2000;
    double height = top + (maxd + 1) * H + 10;
    char title[160];
    title_of(p, title, sizeof(title));
    pf_totals_t t;
    profile_totals(p, &t);
    sbuf_printf(out,
                "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                "xmlns=\"http://www.w3.org/2000/svg\">\n"
                "<style>text{font-family:monospace;font-size:11px;fill:#000}"
                ".f:hover rect{stroke:#000;stroke-width:0.5}.f{cursor:pointer}"
                ".b{cursor:pointer;font-size:12px}</style>\n"
                "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#fdfdf5\"/>\n"
                "<text x=\"%.0f\" y=\"20\" text-anchor=\"middle\" style=\"font-size:15px\">"
                "ulma flame graph: ",
                W + 20, height, W + 20, height, (W + 20) / 2);
    svg_text(out, title, strlen(title));
    sbuf_printf(out,
                ", %.3f s in %llu calls (width = cumulative time; click to zoom)</text>\n"
                "<text id=\"reset\" class=\"b\" x=\"10\" y=\"20\" style=\"display:none\">"
                "Reset Zoom</text>\n"
                "<text id=\"search\" class=\"b\" x=\"%.0f\" y=\"20\" text-anchor=\"end\">"
                "Search</text>\n"
                "<text id=\"matched\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\"></text>\n",
                pf_sec(pf_sat_add(t.tottime_ns, t.open_tottime_ns)), (unsigned long long)t.calls, W + 10,
                W + 10, height - 1);
    for (uint32_t i = 1; i < nn && nshown < SVG_MAX_FRAMES; i++) {
        const pf_path_t *pa = profile_path(p, i);
        double cum = (double)export_path_cumtime(pa);
        double w = total > 0 && cum > 0 ? cum / total : 0;
        if (w * W < 0.1 || depth[i] > maxd)
            continue;
        nshown++;
        const char *s = profile_func_std(p, pa->func);
        const pf_str_t *q = pa->func < profile_nfuncs(p) ? &profile_func(p, pa->func)->qualname
                                                         : NULL;
        const char *label = q ? q->s : "[unknown]";
        size_t label_len = q ? q->len : 9;
        uint32_t h = 2166136261u;
        for (const char *c = s; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
        double y = height - 10 - depth[i] * H;
        sbuf_printf(out, "<g class=\"f\" data-x=\"%.9f\" data-w=\"%.9f\" data-d=\"%u\" data-n=\"",
                    x[i], w, depth[i]);
        svg_text(out, label, label_len);
        sbuf_adds(out, "\"><title>");
        svg_text(out, s, strlen(s));
        sbuf_printf(out, " (%llu calls, %.6f s, %.2f%%)</title>", (unsigned long long)pa->count,
                    cum / 1e9, 100.0 * w);
        sbuf_printf(out,
                    "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                    "fill=\"rgb(%u,%u,%u)\" rx=\"2\"/>",
                    10 + x[i] * W, y, w * W, H - 1, 205 + h % 50, 80 + (h >> 8) % 120,
                    40 + (h >> 16) % 40);
        size_t fit = (size_t)fmax(0.0, (w * W - 4) / 6.6);
        sbuf_printf(out, "<text x=\"%.2f\" y=\"%.1f\">", 10 + x[i] * W + 2, y + H - 4);
        if (fit >= 3) {
            if (label_len > fit) {
                svg_text(out, label, fit - 2);
                sbuf_adds(out, "..");
            } else {
                svg_text(out, label, label_len);
            }
        }
        sbuf_adds(out, "</text></g>\n");
    }
    sbuf_adds(out, svg_script);
    sbuf_adds(out, "</svg>\n");
    free(x);
    free(next);
    free(depth);
}
