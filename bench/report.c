/*
 * `mcpd bench report`: one self-contained HTML page (no external resource:
 * the data sits in a JSON script element and inline JS draws SVG charts)
 * showing, per workload and benchmark, throughput and p50/p99 latency
 * across the baseline history and the latest run, with compare's verdict.
 *
 * When the page has drawn every chart without an exception it sets
 * data-render="ok" and the chart count on <body>; the report test reads that
 * marker from the DOM of a headless browser.
 */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

static const char PAGE_HEAD[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>mcpd benchmark report</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:24px;color:#1b1f24;"
    "background:#f6f7f9}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d4da;"
    "padding-bottom:4px}\n"
    ".meta{color:#555;margin:0 0 12px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(430px,1fr));"
    "gap:12px}\n"
    ".card{background:#fff;border:1px solid #d8dce2;border-radius:8px;padding:10px 12px}\n"
    ".card h3{font-size:14px;margin:0 0 2px;display:flex;justify-content:space-between;align-items:center}\n"
    ".scope{color:#666;font-size:11.5px;margin:0 0 6px;min-height:30px}\n"
    ".badge{font-size:11px;font-weight:600;border-radius:10px;padding:1px 8px;color:#fff}\n"
    ".pass{background:#2f855a}.noise{background:#718096}.absent{background:#a0aec0}.new{background:#3182ce}.WARN{background:#c05621}"
    ".FAIL{background:#c53030}\n"
    ".detail{font-size:11.5px;color:#444;margin:4px 0 0}.charts{display:flex;gap:8px}\n"
    "svg text{font-size:10px;fill:#444}.legend{font-size:11px;color:#444}\n"
    "table{border-collapse:collapse;font-size:12px;margin:6px 0}td,th{border:1px solid #d8dce2;padding:2px 8px;"
    "text-align:left}\n"
    "</style></head>\n<body data-render=\"pending\">\n"
    "<h1>mcpd benchmark report</h1>\n<p class=\"meta\" id=\"meta\"></p>\n"
    "<p class=\"meta\" id=\"render-status\">Charts need JavaScript.</p>\n"
    "<table id=\"history\"></table>\n<div id=\"workloads\"></div>\n"
    "<script type=\"application/json\" id=\"bench-data\">";

static const char PAGE_TAIL[] =
    "</script>\n<script>\n"
    "(function(){\n"
    "'use strict';\n"
    "var NS='http://www.w3.org/2000/svg';\n"
    "var data=JSON.parse(document.getElementById('bench-data').textContent);\n"
    "function el(tag,attrs,parent,text){var e=document.createElement(tag);for(var k in attrs)e.setAttribute(k,attrs[k]);"
    "if(text!==undefined)e.textContent=text;if(parent)parent.appendChild(e);return e;}\n"
    "function sv(tag,attrs,parent,text){var e=document.createElementNS(NS,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);"
    "if(text!==undefined)e.textContent=text;if(parent)parent.appendChild(e);return e;}\n"
    "function fmt(v){if(v===null||v===undefined)return '-';var a=Math.abs(v);"
    "if(a>=1e9)return (v/1e9).toFixed(2)+'G';if(a>=1e6)return (v/1e6).toFixed(2)+'M';if(a>=1e3)return (v/1e3).toFixed(1)+'k';"
    "if(a>=10)return v.toFixed(1);if(a>=1)return v.toFixed(2);return v.toFixed(3);}\n"
    "var labels=data.baselines.map(function(b){return b.created.slice(5,10);});labels.push('latest');\n"
    "function chart(parent,title,lines,unit){\n"
    " var W=205,H=130,L=46,R=8,T=16,B=22;var svg=sv('svg',{width:W,height:H,viewBox:'0 0 '+W+' '+H,role:'img'},parent);\n"
    " sv('text',{x:L,y:11,'font-weight':'600'},svg,title+' ('+unit+')');\n"
    " var vals=[];lines.forEach(function(l){l.values.forEach(function(v){if(v!==null)vals.push(v);});});\n"
    " if(!vals.length){sv('text',{x:L,y:H/2},svg,'no data');return svg;}\n"
    " var lo=0,hi=Math.max.apply(null,vals)*1.15;if(!(hi>0))hi=1;var n=labels.length;\n"
    " function X(i){return n===1?L+(W-L-R)/2:L+i*(W-L-R)/(n-1);}function Y(v){return T+(H-T-B)*(1-(v-lo)/(hi-lo));}\n"
    " sv('line',{x1:L,y1:T,x2:L,y2:H-B,stroke:'#999'},svg);sv('line',{x1:L,y1:H-B,x2:W-R,y2:H-B,stroke:'#999'},svg);\n"
    " [lo,(lo+hi)/2,hi].forEach(function(v){sv('text',{x:L-3,y:Y(v)+3,'text-anchor':'end'},svg,fmt(v));"
    "sv('line',{x1:L,y1:Y(v),x2:W-R,y2:Y(v),stroke:'#eee'},svg);});\n"
    " var step=Math.max(1,Math.ceil(n/4));labels.forEach(function(s,i){if(i%step===0||i===n-1)"
    "sv('text',{x:X(i),y:H-8,'text-anchor':i===n-1&&n>1?'end':'middle'},svg,s);});\n"
    " lines.forEach(function(l){var d='';l.values.forEach(function(v,i){if(v===null)return;d+=(d?'L':'M')+X(i).toFixed(1)+' '+Y(v).toFixed(1);});\n"
    "  if(d)sv('path',{d:d,fill:'none',stroke:l.color,'stroke-width':1.6},svg);\n"
    "  l.values.forEach(function(v,i){if(v===null)return;var c=sv('circle',{cx:X(i),cy:Y(v),r:i===n-1?3.5:2.5,fill:l.color},svg);"
    "sv('title',{},c,l.name+' '+labels[i]+': '+fmt(v)+' '+unit);});});\n"
    " return svg;}\n"
    "var meta=document.getElementById('meta');\n"
    "meta.textContent='Generated '+data.generated+'. Latest run: '+(data.latest.timestamp||'none')+', commit '+"
    "(data.latest.commit||'unknown').slice(0,12)+', '+data.latest.environment+'. Baselines: '+data.baselines.length+"
    "'. Verdict vs newest baseline: '+data.verdict+'.';\n"
    "if(data.note){var nt=el('p',{'class':'meta',style:'font-weight:600;color:#9c4221'},null,data.note);"
    "meta.parentNode.insertBefore(nt,meta.nextSibling);}\n"
    "var hist=document.getElementById('history');\n"
    "if(data.baselines.length){var hr=el('tr',{},hist);['baseline','created','commit','profile','reason'].forEach("
    "function(h){el('th',{},hr,h);});\n"
    " data.baselines.forEach(function(b){var r=el('tr',{},hist);[b.name,b.created,b.commit.slice(0,12),b.profile,b.reason]"
    ".forEach(function(v){el('td',{},r,v);});});}\n"
    "var root=document.getElementById('workloads');var groups={};var order=[];\n"
    "data.series.forEach(function(s){if(!groups[s.workload]){groups[s.workload]=[];order.push(s.workload);}groups[s.workload].push(s);});\n"
    "var drawn=0;\n"
    "order.forEach(function(w){el('h2',{},root,w);var grid=el('div',{'class':'grid'},root);\n"
    " groups[w].forEach(function(s){var card=el('div',{'class':'card','data-series':w+'/'+s.benchmark},grid);\n"
    "  var h=el('h3',{},card);el('span',{},h,s.benchmark);el('span',{'class':'badge '+s.verdict},h,s.verdict);\n"
    "  el('p',{'class':'scope'},card,s.scope);var row=el('div',{'class':'charts'},card);\n"
    "  chart(row,'throughput',[{name:'throughput',color:'#2b6cb0',values:s.throughput}],'msg/s');\n"
    "  chart(row,'latency',[{name:'p50',color:'#38a169',values:s.p50},{name:'p99',color:'#dd6b20',values:s.p99}],'\\u00b5s');\n"
    "  el('div',{'class':'legend'},card,'blue: throughput; green: p50; orange: p99; the last point is the latest run');\n"
    "  if(s.detail)el('p',{'class':'detail'},card,s.detail);drawn++;});});\n"
    "document.body.setAttribute('data-charts',String(drawn));\n"
    "document.getElementById('render-status').textContent='Rendered '+drawn+' charts.';\n"
    "document.body.setAttribute('data-render','ok');\n"
    "})();\n"
    "</script>\n</body></html>\n";

/* Numbers of one series across the history: null where a baseline lacks it. */
static void write_series_values(mcp_json_writer *w, const bench_baseline *bases, size_t nb, const bench_record *cur,
                                const char *workload, const char *benchmark, int which) {
    mcp_json_begin_array(w);
    for (size_t i = 0; i <= nb; i++) {
        const bench_record *r = i < nb ? bench_record_list_find(&bases[i].records, workload, benchmark) : cur;
        if (!r) {
            mcp_json_write_null(w);
            continue;
        }
        mcp_json_write_double(w, which == 0 ? r->throughput : which == 1 ? r->p50_us : r->p99_us);
    }
    mcp_json_end_array(w);
}

/* Position of a workload in `bench list` order; unknown ones go last. */
static size_t workload_rank(const char *id) {
    size_t rank = 0;
    for (size_t i = 0; i < bench_module_count(); i++) {
        const bench_module *m = bench_module_at(i);
        for (size_t j = 0; j < m->workload_count; j++, rank++)
            if (!strcmp(m->workloads[j].id, id)) return rank;
    }
    return rank;
}

static int cmp_key(const void *a, const void *b) {
    const bench_record *x = a, *y = b;
    size_t rx = workload_rank(x->workload_id), ry = workload_rank(y->workload_id);
    if (rx != ry) return rx < ry ? -1 : 1;
    int c = strcmp(x->workload_id, y->workload_id);
    /* Same workload: keep the module's task order, which the run recorded. */
    return c ? c : (x->operations > y->operations) - (x->operations < y->operations);
}

/* Every (workload, benchmark) seen in the baselines or the latest run. */
static int collect_keys(const bench_baseline *bases, size_t nb, const bench_record_list *cur,
                        bench_record_list *keys) {
    for (size_t i = 0; i < cur->count; i++)
        if (!bench_record_list_find(keys, cur->items[i].workload_id, cur->items[i].benchmark))
            if (bench_record_list_push(keys, &cur->items[i])) return MCP_ENOMEM;
    for (size_t b = nb; b-- > 0;) {
        for (size_t i = 0; i < bases[b].records.count; i++) {
            const bench_record *r = &bases[b].records.items[i];
            if (!bench_record_list_find(keys, r->workload_id, r->benchmark))
                if (bench_record_list_push(keys, r)) return MCP_ENOMEM;
        }
    }
    /* qsort is not stable: remember the first-seen order in operations,
     * which the key copies do not otherwise need. */
    for (size_t i = 0; i < keys->count; i++) keys->items[i].operations = i;
    qsort(keys->items, keys->count, sizeof keys->items[0], cmp_key);
    return MCP_OK;
}

static void write_data(mcp_json_writer *w, const bench_baseline *bases, size_t nb, const bench_record_list *cur,
                       const bench_record_list *keys, const bench_thresholds *t) {
    char now[32];
    mcp_time_iso8601(now);
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "generated");
    mcp_json_write_cstr(w, now);
    mcp_json_write_key(w, "latest");
    mcp_json_begin_object(w);
    const bench_record *first = cur->count ? &cur->items[0] : NULL;
    mcp_json_write_key(w, "timestamp");
    mcp_json_write_cstr(w, first ? first->timestamp : "");
    mcp_json_write_key(w, "commit");
    mcp_json_write_cstr(w, first ? first->env.git_commit : "");
    char envtext[300];
    if (first)
        snprintf(envtext, sizeof envtext, "%s, %d cores, %s build, %s profile", first->env.cpu_model,
                 first->env.cores, first->env.build_type, first->profile);
    else
        snprintf(envtext, sizeof envtext, "no results");
    mcp_json_write_key(w, "environment");
    mcp_json_write_cstr(w, envtext);
    mcp_json_end_object(w);
    /* Numbers from different machines or builds differ for reasons that are
     * not the code: say so above the charts. */
    char note[sizeof(bench_env) * 2] = "";
    if (first && nb &&
        (strcmp(bases[nb - 1].env.cpu_model, first->env.cpu_model) ||
         strcmp(bases[nb - 1].env.build_type, first->env.build_type)))
        snprintf(note, sizeof note, "Note: the newest baseline was measured on %s (%s build), the latest run on "
                 "%s (%s build); differences may come from that, not from the code.",
                 bases[nb - 1].env.cpu_model, bases[nb - 1].env.build_type, first->env.cpu_model,
                 first->env.build_type);
    mcp_json_write_key(w, "note");
    mcp_json_write_cstr(w, note);
    mcp_json_write_key(w, "baselines");
    mcp_json_begin_array(w);
    for (size_t i = 0; i < nb; i++) {
        mcp_json_begin_object(w);
        mcp_json_write_key(w, "name");
        mcp_json_write_cstr(w, bases[i].name);
        mcp_json_write_key(w, "created");
        mcp_json_write_cstr(w, bases[i].created);
        mcp_json_write_key(w, "commit");
        mcp_json_write_cstr(w, bases[i].commit);
        mcp_json_write_key(w, "profile");
        mcp_json_write_cstr(w, bases[i].profile);
        mcp_json_write_key(w, "reason");
        mcp_json_write_cstr(w, bases[i].reason);
        mcp_json_end_object(w);
    }
    mcp_json_end_array(w);
    int worst = 0;
    mcp_json_write_key(w, "series");
    mcp_json_begin_array(w);
    for (size_t i = 0; i < keys->count; i++) {
        const bench_record *k = &keys->items[i];
        const bench_record *c = bench_record_list_find(cur, k->workload_id, k->benchmark);
        const bench_record *b = nb ? bench_record_list_find(&bases[nb - 1].records, k->workload_id, k->benchmark) : NULL;
        char detail[320] = "";
        const char *verdict = "new";
        if (c) {
            bench_verdict v = bench_compare_record(t, b, c, detail, sizeof detail);
            verdict = bench_verdict_name(v);
            if (v == BENCH_FAIL) worst = 2;
            else if (v == BENCH_WARN && worst < 1) worst = 1;
        } else {
            verdict = "absent";
            snprintf(detail, sizeof detail, "not in the latest run");
        }
        mcp_json_begin_object(w);
        mcp_json_write_key(w, "workload");
        mcp_json_write_cstr(w, k->workload_id);
        mcp_json_write_key(w, "benchmark");
        mcp_json_write_cstr(w, k->benchmark);
        mcp_json_write_key(w, "scope");
        mcp_json_write_cstr(w, k->scope);
        mcp_json_write_key(w, "verdict");
        mcp_json_write_cstr(w, verdict);
        mcp_json_write_key(w, "detail");
        mcp_json_write_cstr(w, detail);
        static const char *const names[] = {"throughput", "p50", "p99"};
        for (int m = 0; m < 3; m++) {
            mcp_json_write_key(w, names[m]);
            write_series_values(w, bases, nb, c, k->workload_id, k->benchmark, m);
        }
        mcp_json_end_object(w);
    }
    mcp_json_end_array(w);
    mcp_json_write_key(w, "verdict");
    mcp_json_write_cstr(w, !cur->count ? "no results" : worst == 2 ? "FAIL" : worst == 1 ? "WARN" : "PASS");
    mcp_json_end_object(w);
}

/* JSON inside a script element must not contain "</" (it would close the
 * element early); "<\/" means the same to the JSON parser. */
static int append_script_safe(mcp_buf *out, const char *json, size_t len) {
    for (size_t i = 0; i < len; i++) {
        int rc = (json[i] == '/' && i > 0 && json[i - 1] == '<') ? mcp_buf_append(out, "\\/", 2)
                                                                 : mcp_buf_append_char(out, json[i]);
        if (rc) return rc;
    }
    return MCP_OK;
}

int bench_cmd_report(int argc, char **argv) {
    const char *out_path = BENCH_DEFAULT_RESULTS "/report.html", *results_dir = BENCH_DEFAULT_RESULTS,
               *baselines_dir = BENCH_DEFAULT_BASELINES, *thresholds_path = BENCH_DEFAULT_THRESHOLDS;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out_path = argv[++i];
        else if (!strcmp(argv[i], "--results") && i + 1 < argc) results_dir = argv[++i];
        else if (!strcmp(argv[i], "--baselines") && i + 1 < argc) baselines_dir = argv[++i];
        else if (!strcmp(argv[i], "--thresholds") && i + 1 < argc) thresholds_path = argv[++i];
        else {
            fprintf(stderr, "mcpd bench report: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    bench_errors errs = {stderr, NULL, 0};
    bench_thresholds t;
    if (bench_thresholds_load(thresholds_path, &t, &errs) != 0) {
        fprintf(stderr, "mcpd bench report: using default thresholds\n");
        bench_thresholds_default(&t);
    }
    bench_baseline *bases = NULL;
    size_t nb = 0;
    if (bench_baselines_load(baselines_dir, &bases, &nb, &errs) < 0) nb = 0;
    bench_record_list cur = {0}, keys = {0};
    if (bench_results_load_dir(results_dir, &cur, &errs) < 0)
        fprintf(stderr, "mcpd bench report: no results directory %s; showing baselines only\n", results_dir);
    int rc = collect_keys(bases, nb, &cur, &keys);

    mcp_buf json, page;
    mcp_buf_init(&json);
    mcp_buf_init(&page);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &json);
    if (!rc) {
        write_data(&w, bases, nb, &cur, &keys, &t);
        rc = mcp_json_writer_status(&w);
    }
    if (!rc) rc = mcp_buf_append_cstr(&page, PAGE_HEAD);
    if (!rc) rc = append_script_safe(&page, json.data, json.len);
    if (!rc) rc = mcp_buf_append_cstr(&page, PAGE_TAIL);
    if (!rc) rc = bench_write_file(out_path, page.data, page.len);
    if (rc) fprintf(stderr, "mcpd bench report: cannot write %s: %s\n", out_path, mcp_strerror(rc));
    else printf("report: %s (%zu series, %zu baselines)\n", out_path, keys.count, nb);
    mcp_buf_free(&json);
    mcp_buf_free(&page);
    bench_record_list_free(&cur);
    bench_record_list_free(&keys);
    bench_baselines_free(bases, nb);
    return rc ? 2 : 0;
}
