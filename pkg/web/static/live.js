// Live updates for quire-hook's pages (SPEC §14). Everything works
// without this file; with it, a running run's page and the log of a
// running job follow the run through Server-Sent Events.
//
// The run page (main[data-live]) is told "update" when its rows change
// and then fetches itself again and swaps its content in; the server
// rendered and escaped that HTML. A log (ol[data-follow]) is sent lines
// as JSON and builds them with textContent: no log text is ever parsed
// as HTML here.
"use strict";
(function () {
  function followRun(main) {
    var es = new EventSource(main.dataset.live);
    var busy = false, again = false;
    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(location.href, { headers: { "Accept": "text/html" }, cache: "no-store" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("main");
          if (fresh) {
            main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes).map(function (n) {
              return document.importNode(n, true);
            }));
          }
        })
        .catch(function () {})
        .finally(function () {
          busy = false;
          if (again) { again = false; refresh(); }
        });
    }
    es.addEventListener("update", refresh);
    es.addEventListener("end", function () { es.close(); refresh(); });
  }

  function followLog(ol) {
    var es = new EventSource(ol.dataset.follow);
    es.addEventListener("lines", function (ev) {
      var lines = JSON.parse(ev.data);
      var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
      lines.forEach(function (l) {
        var li = document.createElement("li");
        li.id = "L" + l.n;
        li.className = l.cls || "";
        var a = document.createElement("a");
        a.className = "ln";
        a.href = "#L" + l.n;
        a.textContent = String(l.n);
        li.appendChild(a);
        if (l.src) {
          var src = document.createElement("span");
          src.className = "src";
          src.textContent = l.src;
          li.appendChild(src);
        }
        var txt = document.createElement("span");
        txt.className = "txt";
        (l.spans || []).forEach(function (s) {
          if (s.c) {
            var sp = document.createElement("span");
            sp.className = s.c;
            sp.textContent = s.t;
            txt.appendChild(sp);
          } else {
            txt.appendChild(document.createTextNode(s.t));
          }
        });
        li.appendChild(txt);
        ol.appendChild(li);
      });
      if (atBottom) { window.scrollTo(0, document.body.scrollHeight); }
    });
    es.addEventListener("end", function () {
      es.close();
      ol.removeAttribute("data-follow");
      ol.dataset.ended = "true";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var main = document.querySelector("main[data-live]");
    if (main) { followRun(main); }
    var ol = document.querySelector("ol[data-follow]");
    if (ol) { followLog(ol); }
  });
})();
