/*
 * Yizhan planner pages: job progress polling, the coverage/plan map, form helpers.
 *
 * No inline scripts (CSP script-src 'self'): configuration comes from the JSON block
 * #pl-config. While a job runs, its page's JSON twin (?format=json) is polled and the
 * <progress> bar and its aria-live text follow it; when the job ends the page reloads to show
 * the server-rendered result. Map layers are GeoJSON files of the job; names from data are put
 * into tooltips as text nodes, never as HTML.
 * Scripts, in order: leaflet (result pages), i18n.js, common.js, this file.
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var C = Y.common;
  var text = C.textNode;
  var BANDS = ['#1a9850', '#91cf60', '#d9ef8b', '#fee08b'];
  var BEYOND = '#bdbdbd';

  function bandColour(minutes, max) {
    if (minutes === null || minutes === undefined || !(minutes <= max)) { return BEYOND; }
    for (var i = 0; i < BANDS.length; i++) {
      if (minutes <= max * (i + 1) / BANDS.length) { return BANDS[i]; }
    }
    return BEYOND;
  }

  function pct(f) { return Math.round(f * 100) + '%'; }

  var FINISHED = ['done', 'failed', 'cancelled'];

  /* The cancel button of a running or queued job: a plain form POST (CSRF token in the form,
     works without script); here it only says that the job is being stopped. */
  function cancelButton() {
    var form = document.getElementById('pl-cancel');
    if (!form) { return; }
    form.addEventListener('submit', function () {
      var button = form.querySelector('button');
      if (button) { button.disabled = true; }
      var label = document.getElementById('pl-progress-text');
      if (label) { label.textContent = t('plannerCancelling'); }
    });
  }

  function poll(cfg) {
    var bar = document.getElementById('pl-progress');
    var label = document.getElementById('pl-progress-text');
    var title = document.getElementById('pl-progress-title');
    var failures = 0;
    function tick() {
      C.getJSON(cfg.poll)
        .then(function (doc) {
          failures = 0;
          var job = doc.job;
          if (FINISHED.indexOf(job.state) >= 0) {
            window.location.reload();
            return;
          }
          if (bar) { bar.value = job.fraction; bar.textContent = pct(job.fraction); }
          // The server words the state and progress (webapp/jobs.py status_text), so the title
          // follows the job: never 排队中 beside a progress of 60 %.
          if (title && job.status_title) { title.textContent = job.status_title; }
          if (label) {
            var stage = cfg.stages[job.stage] || job.stage;
            var message = job.status_message || job.message;
            label.textContent = (job.status_text ||
              t('plannerProgress', { stage: stage, pct: pct(job.fraction) })) +
              (message ? ' · ' + message : '');
          }
          window.setTimeout(tick, 1000);
        })
        .catch(function () {
          failures += 1;
          if (label && failures > 3) { label.textContent = t('plannerRetrying'); }
          window.setTimeout(tick, Math.min(10000, 1000 * (failures + 1)));
        });
    }
    window.setTimeout(tick, 700);
  }

  /* The base of a result map: the first configured basemap (webapp/public.py basemap_layers,
     the same list as the locator's). Tiles when it has a URL (the CSP allows exactly those
     origins); else the bundled county outlines from this server, with county names at the
     county seats. GCJ-02 tile sets (Amap) are skipped: the planner's layers are WGS-84. */
  function drawBase(map, el, cfg) {
    var defs = (cfg.basemaps || []).filter(function (d) { return d.crs !== 'gcj02'; });
    var d = defs[0] || { id: 'offline', url: '' };
    el.setAttribute('data-basemap', d.id || 'offline');
    if (d.url) {
      L.tileLayer(d.url, { attribution: d.attribution || '', subdomains: d.subdomains || 'abc',
        maxZoom: d.max_zoom || 18 }).addTo(map);
      if (d.overlay_url) {
        L.tileLayer(d.overlay_url, { subdomains: d.subdomains || 'abc' }).addTo(map);
      }
      return Promise.resolve();
    }
    el.classList.add('pl-map--offline');
    if (d.max_zoom) { map.setMaxZoom(d.max_zoom); }
    if (!cfg.outlinesUrl) { return Promise.resolve(); }
    map.createPane('pl-outlines');
    map.getPane('pl-outlines').style.zIndex = 250;
    map.getPane('pl-outlines').style.pointerEvents = 'none';
    map.createPane('pl-labels');
    map.getPane('pl-labels').style.zIndex = 450;
    map.getPane('pl-labels').style.pointerEvents = 'none';
    // the bundled outlines' credit in the page's language (the server's line is Chinese)
    if (d.attribution) { map.attributionControl.addAttribution(t('plannerOutlines')); }
    return C.getJSON(cfg.outlinesUrl).then(function (fc) {
      L.geoJSON(fc, {
        pane: 'pl-outlines',
        interactive: false,
        style: function () {
          return { color: '#8a8f98', weight: 1, opacity: 0.9, fillColor: '#fbfaf6', fillOpacity: 1 };
        }
      }).addTo(map);
      var labels = L.layerGroup();
      (fc.features || []).forEach(function (f) {
        var p = f.properties || {};
        if (!p.name || !isFinite(p.seat_lon) || !isFinite(p.seat_lat)) { return; }
        var m = L.marker([p.seat_lat, p.seat_lon], {
          icon: L.divIcon({ className: 'pl-county-label', html: '', iconSize: null }),
          interactive: false, keyboard: false, pane: 'pl-labels'
        });
        m.on('add', function () {
          var node = m.getElement();
          if (node) {
            node.textContent = p.name;
            node.setAttribute('aria-hidden', 'true');
            node.setAttribute('translate', 'no'); // a name (data), in both languages
          }
        });
        labels.addLayer(m);
      });
      labels.addTo(map);
      function level() { el.classList.toggle('pl-labels--hidden', map.getZoom() < 8); }
      map.on('zoomend', level);
      level();
      el.setAttribute('data-outlines', String((fc.features || []).length));
    }).catch(function () { /* the analysis layers still show */ });
  }

  /* The attribution line: data sources, 审图号 and ICP record of the deployment, the same line
     as the report maps (geo.maps.attribution_html builds and escapes it on the server). */
  function attribution(map, cfg) {
    map.attributionControl.setPrefix(false);
    if (cfg.attributionHtml) { map.attributionControl.addAttribution(cfg.attributionHtml); }
    map.attributionControl.addAttribution(t('plannerDemo'));
  }

  /* On phones the attribution line keeps to one line (planner.css cuts it with an
     ellipsis); this button beside it shows the whole line (sources, 审图号, ICP) and hides it
     again. Leaflet rewrites the attribution's own HTML, so the button is a control of its own
     in the same corner. */
  function attributionToggle(map, el) {
    var Toggle = L.Control.extend({
      options: { position: 'bottomright' },
      onAdd: function () {
        var b = L.DomUtil.create('button', 'pl-attr-toggle leaflet-control');
        b.type = 'button';
        b.textContent = 'ⓘ';
        b.setAttribute('aria-label', t('plannerAttrToggle'));
        b.setAttribute('aria-expanded', 'false');
        b.id = 'pl-attr-toggle';
        L.DomEvent.disableClickPropagation(b);
        L.DomEvent.on(b, 'click', function () {
          var open = el.classList.toggle('pl-attr--open');
          b.setAttribute('aria-expanded', open ? 'true' : 'false');
        });
        return b;
      }
    });
    new Toggle().addTo(map);
  }

  /**
   * Demand signals of the public map next to the gaps (issue 15 item 8): H3 cells with the
   * count of unserved searches and located points; a note says when recording is off or how
   * many small cells were suppressed. A failure leaves the other layers alone.
   */
  function signalLayer(map, control, el, cfg) {
    if (!cfg.layers.signals) { return null; }
    return C.getJSON(cfg.layers.signals).then(function (data) {
      var info = data.signals || {};
      var note = null;
      if (info.enabled === false) {
        note = t('signalsOff');
      } else if (info.suppressed_cells) {
        note = t('signalsSuppressed',
          { cells: info.suppressed_cells, n: info.suppressed_count, min: info.min_count });
      }
      if (note) {
        var p = document.createElement('p');
        p.className = 'pl-hint';
        p.id = 'pl-signals-note';
        p.textContent = note;
        el.parentNode.insertBefore(p, el.nextSibling);
      }
      var layer = L.geoJSON(data, {
        style: function () { return { color: '#6a3d9a', weight: 1, fillColor: '#6a3d9a', fillOpacity: 0.35 }; },
        onEachFeature: function (f, lyr) {
          lyr.bindTooltip(text(t('signalTooltip', { n: f.properties.count })));
        }
      }).addTo(map);
      control.addOverlay(layer, t('layerSignals'));
      el.setAttribute('data-layers', (el.getAttribute('data-layers') || '') + ' signals');
      return layer;
    }).catch(function () { return null; });
  }

  function drawMap(cfg) {
    var el = document.getElementById('pl-map');
    if (!el || !window.L || !cfg.layers || !cfg.layers.cells) { return; }
    var map = L.map(el, { preferCanvas: true, scrollWheelZoom: false });
    attribution(map, cfg);
    attributionToggle(map, el);
    var b = cfg.bounds;
    if (b && b.length === 4 && isFinite(b[0])) {
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [8, 8] });
    } else {
      map.setView([23.5, 108.3], 7);
    }
    var base = drawBase(map, el, cfg);
    var max = cfg.maxMinutes || 60;
    var overlays = {};
    var control = L.control.layers(null, overlays, { collapsed: true }).addTo(map);
    C.localiseMap(map);   // Leaflet's control names in the page's language, no English prefix
    var point = function (colour, radius) {
      return function (feature, latlng) {
        return L.circleMarker(latlng, {
          radius: radius, color: colour, weight: 1, fillColor: colour, fillOpacity: 0.85
        });
      };
    };
    function add(name, url, options, order) {
      return C.getJSON(url).then(function (data) {
        var layer = L.geoJSON(data, options).addTo(map);
        control.addOverlay(layer, name);
        el.setAttribute('data-layers', (el.getAttribute('data-layers') || '') + ' ' + order);
        return layer;
      });
    }
    add(t('layerMinutes'), cfg.layers.cells, {
      style: function (f) {
        var c = bandColour(f.properties.minutes, max);
        return { color: c, weight: 0.3, fillColor: c, fillOpacity: 0.55 };
      },
      pointToLayer: function (f, latlng) {
        var c = bandColour(f.properties.minutes, max);
        return L.circleMarker(latlng, { radius: 4, color: c, weight: 1, fillColor: c, fillOpacity: 0.9 });
      },
      onEachFeature: function (f, layer) {
        var m = f.properties.minutes;
        var time = m === null ? t('cellBeyond') : t('cellMinutes', { m: m });
        layer.bindTooltip(text(t('cellTooltip', { time: time, demand: f.properties.demand })));
      }
    }, 'cells').then(function () {
      if (cfg.layers.gaps) {
        return add(t('layerGaps'), cfg.layers.gaps, {
          style: function () { return { color: '#7b0000', weight: 2, fillOpacity: 0 }; },
          pointToLayer: function (f, latlng) {
            return L.circleMarker(latlng, { radius: 6, color: '#7b0000', weight: 2, fillOpacity: 0 });
          }
        }, 'gaps');
      }
      return null;
    }).then(function () {
      return signalLayer(map, control, el, cfg);
    }).then(function () {
      return add(t('layerStations'), cfg.layers.stations, {
        pointToLayer: point('#08306b', 5),
        onEachFeature: function (f, layer) { layer.bindTooltip(text(f.properties.name)); }
      }, 'stations');
    }).then(function () {
      if (!cfg.layers.chosen) { return null; }
      return add(t('layerChosen'), cfg.layers.chosen, {
        pointToLayer: point('#b2182b', 8),
        onEachFeature: function (f, layer) {
          var p = f.properties;
          layer.bindTooltip(text(t('chosenTooltip', { rank: p.rank, name: p.name, gain: p.gain })),
            { permanent: false });
        }
      }, 'chosen');
    }).then(function () {
      return base;
    }).then(function () {
      el.setAttribute('data-ready', '1');
    }).catch(function () {
      var note = document.createElement('p');
      note.className = 'pl-error';
      note.setAttribute('role', 'alert');
      note.textContent = t('layersFailed');
      el.parentNode.insertBefore(note, el);
    });
  }

  /* Show only the form fields that the chosen radio option needs. */
  function toggles() {
    var rules = [
      ['problem', { add: ['pl-k'], target: ['pl-target'], budget: ['pl-budget', 'pl-years'] }],
      ['candidate_source', { grid: ['pl-grid'], file: ['pl-candidates'] }],
      ['demand', {
        population_table: ['pl-population-table', 'pl-resolution'],
        population: ['pl-population', 'pl-resolution'],
        demand_points: ['pl-points']
      }]
    ];
    rules.forEach(function (rule) {
      var name = rule[0];
      var map = rule[1];
      var radios = document.querySelectorAll('input[type=radio][name="' + name + '"]');
      if (!radios.length) { return; }
      var all = {};
      Object.keys(map).forEach(function (k) { map[k].forEach(function (id) { all[id] = true; }); });
      function update() {
        var chosen = document.querySelector('input[type=radio][name="' + name + '"]:checked');
        var show = chosen ? (map[chosen.value] || []) : [];
        Object.keys(all).forEach(function (id) {
          var input = document.getElementById(id);
          var label = document.querySelector('label[for="' + id + '"]');
          var hidden = show.indexOf(id) < 0;
          if (input) { input.hidden = hidden; }
          if (label) { label.hidden = hidden; }
        });
      }
      Array.prototype.forEach.call(radios, function (r) { r.addEventListener('change', update); });
      update();
    });
  }

  var cfg = C.readConfig('pl-config');
  toggles();
  cancelButton();
  if (cfg && cfg.job && FINISHED.indexOf(cfg.job.state) < 0) { poll(cfg); }
  if (cfg && cfg.job && cfg.job.state === 'done') { drawMap(cfg); }
  window.YizhanPlanner = { bandColour: bandColour };
}(window.Yizhan = window.Yizhan || {}));
