/*
 * Yizhan locator: the Leaflet map — creation, basemaps (WGS-84 or GCJ-02), the admin outlines
 * with province/prefecture labels, and the stations in view from /api/clusters (server count
 * bubbles plus single stations grouped by Leaflet.markercluster; moveend debounced, stale
 * requests aborted, answers cached by a tile-aligned key).
 * Adds methods to window.Yizhan.locator.Locator.prototype (see locator/app.js).
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var C = Y.common;
  var el = C.el;
  var isBlank = C.isBlank;
  var F = Y.locator.format;
  var Locator = Y.locator.Locator;
  var P = Locator.prototype;

  /** Create the map, its panes and layers, and the map's own events. */
  P.initMap = function () {
    var self = this;
    var cfg = this.cfg;
    var center = Array.isArray(cfg.center) && cfg.center.length >= 2 ? cfg.center : [108.3, 23.5];
    var map = this.map = L.map(this.$.mapEl, {
      center: [center[1], center[0]],
      zoom: typeof cfg.zoom === 'number' ? cfg.zoom : 6,
      minZoom: 3,
      maxZoom: 18,
      zoomControl: true,
      keyboard: true,
      worldCopyJump: false,
      // One world: a pan past the antimeridian would ask for longitudes beyond 180°.
      maxBounds: [[-85, -180], [85, 180]],
      maxBoundsViscosity: 1.0,
      scrollWheelZoom: cfg.scrollWheelZoom !== false
    });
    map.attributionControl.setPrefix(false);
    if (cfg.demo) {
      this.demoAttribution = t('demoAttribution');
      map.attributionControl.addAttribution(this.demoAttribution);
    }
    if (cfg.approval) { map.attributionControl.addAttribution(String(cfg.approval)); }

    map.createPane('yz-outlines');
    map.getPane('yz-outlines').style.zIndex = 250;   // above tiles, below overlays/markers
    map.getPane('yz-outlines').style.pointerEvents = 'none';
    map.createPane('yz-labels');
    map.getPane('yz-labels').style.zIndex = 260;
    map.getPane('yz-labels').style.pointerEvents = 'none';

    this.setupBasemaps();
    this.initialView();

    this.cluster = L.markerClusterGroup({
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      maxClusterRadius: 50,
      chunkedLoading: true
    });
    map.addLayer(this.cluster);
    this.bubbles = L.layerGroup().addTo(map);     // server clusters
    this.pointLayer = L.layerGroup().addTo(map);  // the search origin

    // A resize (rotation, address bar, the sheet, an embed's frame) keeps the intended view:
    // the first view's bounds until the user moves the map, then the user's centre and zoom.
    // Only a real change of the map's size counts, so nothing here can feed back on itself.
    this.mapSize = [this.$.mapEl.clientWidth, this.$.mapEl.clientHeight];
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(function () { self.onResize(); }).observe(this.$.mapEl);
    }
    window.addEventListener('resize', function () { self.onResize(); });
    this.moving = false;
    this.onMoveEnd = C.debounce(function () {
      self.loadView();
      if (self.hasList && self.listMode === 'view') { self.loadList(0); }
      self.updateUrl();
    }, Locator.DEBOUNCE_MS);
    map.on('movestart zoomstart', function () { self.moving = true; });
    map.on('moveend', function () {
      self.moving = false;
      if (!self.keepingView) { self.intent = { center: map.getCenter(), zoom: map.getZoom() }; }
      self.onMoveEnd();
    });
    map.on('zoomend', function () { self.updateBasemapNote(); });
    this.updateBasemapNote();
    map.on('click', function (e) { self.onMapClick(e); });
    map.on('popupclose', function () { self.markCurrent(null); });
    this.$.mapEl.addEventListener('keydown', function (e) { self.onMapKey(e); });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && self.picking) { self.setPicking(false); }
    });
    if (cfg.scrollWheelZoom === false) {
      var enable = function () { map.scrollWheelZoom.enable(); self.hideWheelHint(); };
      map.on('click', enable);
      this.$.mapEl.addEventListener('focus', enable);
      this.$.mapEl.addEventListener('wheel', function () {
        if (!map.scrollWheelZoom.enabled() && self.$.wheelHint) {
          self.$.wheelHint.hidden = false;
          window.clearTimeout(self.wheelTimer);
          self.wheelTimer = window.setTimeout(function () { self.hideWheelHint(); }, 1800);
        }
      }, { passive: true });
    }
  };

  P.hideWheelHint = function () {
    if (this.$.wheelHint) { this.$.wheelHint.hidden = true; }
  };

  P.initialView = function () {
    var cfg = this.cfg;
    var v = cfg.view;
    if (v && isFinite(v.lat) && isFinite(v.lon)) {
      this.intent = { center: this.disp(v.lat, v.lon), zoom: isFinite(v.zoom) ? v.zoom : 13 };
    } else {
      var b = (Array.isArray(cfg.regionBounds) && cfg.regionBounds.length === 4) ?
        cfg.regionBounds : (Array.isArray(cfg.bounds) && cfg.bounds.length === 4 ? cfg.bounds : null);
      if (b) {
        this.intent = { bounds: L.latLngBounds(this.disp(b[1], b[0]), this.disp(b[3], b[2])) };
      }
    }
    this.applyIntent();
  };

  /** Show the intended view (first view's bounds, or the last centre and zoom) again. */
  P.applyIntent = function () {
    var it = this.intent;
    if (!it) { return; }
    this.keepingView = true;
    try {
      if (it.bounds) {
        var size = this.map.getSize();
        var pad = Math.min(24, Math.floor(Math.min(size.x, size.y) / 10));
        this.map.fitBounds(it.bounds, { padding: [pad, pad], maxZoom: 12, animate: false });
      } else {
        this.map.setView(it.center, it.zoom, { animate: false });
      }
    } finally {
      this.keepingView = false;
    }
  };

  /** The map element changed size: tell Leaflet, then show the intended view again. */
  P.onResize = function () {
    var w = this.$.mapEl.clientWidth;
    var h = this.$.mapEl.clientHeight;
    if (!w || !h || (this.mapSize && this.mapSize[0] === w && this.mapSize[1] === h)) { return; }
    this.mapSize = [w, h];
    this.keepingView = true;
    try {
      this.map.invalidateSize({ pan: false });
    } finally {
      this.keepingView = false;
    }
    this.applyIntent();
  };

  /** Popup options that keep it inside the (possibly small, phone) map. */
  P.popupOptions = function () {
    var size = this.map.getSize();
    var maxWidth = Math.max(180, Math.min(300, size.x - 90));
    return {
      maxWidth: maxWidth,
      minWidth: Math.min(200, maxWidth),
      maxHeight: Math.max(140, size.y - 56),
      autoPanPaddingTopLeft: [54, 12],
      autoPanPaddingBottomRight: [12, 24]
    };
  };

  // ---- basemaps

  P.setupBasemaps = function () {
    var self = this;
    var tr = Y.i18n.translate;
    var defs = Array.isArray(this.cfg.basemaps) && this.cfg.basemaps.length ?
      this.cfg.basemaps : [{ id: 'offline', name_zh: tr('zh', 'offlineBasemap'),
        name_en: tr('en', 'offlineBasemap'), crs: 'wgs84', url: '' }];
    var en = Y.i18n.lang() === 'en';
    this.basemapDefs = {};
    this.basemapLayers = {};
    var control = {};
    defs.forEach(function (d) {
      var layer;
      if (d.url) {
        var opts = {
          attribution: d.attribution || '',
          maxZoom: d.max_zoom || 18,
          crossOrigin: false
        };
        if (d.subdomains) { opts.subdomains = d.subdomains; }
        var tiles = L.tileLayer(d.url, opts);
        layer = d.overlay_url ? L.layerGroup([tiles, L.tileLayer(d.overlay_url, opts)]) : tiles;
      } else {
        layer = L.layerGroup();  // offline: the outlines (always drawn) are the basemap
        // in the page language (the server's text is Chinese): the catalogue's for offline
        layer.getAttribution = function () {
          return d.id === 'offline' && d.attribution ? t('outlinesAttribution') : (d.attribution || '');
        };
      }
      layer.yzId = d.id;
      self.basemapDefs[d.id] = d;
      self.basemapLayers[d.id] = layer;
      control[en ? (d.name_en || d.id) : (d.name_zh || d.id)] = layer;
    });
    var first = this.basemapId && this.basemapDefs[this.basemapId] ? this.basemapId : defs[0].id;
    this.basemapId = first;
    this.crs = this.basemapDefs[first].crs === 'gcj02' ? 'gcj02' : 'wgs84';
    this.basemapLayers[first].addTo(this.map);
    this.updateMapClass();
    if (defs.length > 1 && this.controls.indexOf('basemaps') >= 0) {
      this.layerControl = L.control.layers(control, null, { collapsed: true, position: 'topright' })
        .addTo(this.map);
    }
    this.map.on('baselayerchange', function (e) { self.onBasemapChange(e.layer.yzId); });
  };

  /** The deepest zoom of a basemap: the offline outlines stop where they stop being useful. */
  P.basemapMaxZoom = function (d) {
    if (!d.url) { return Math.min(d.max_zoom || Locator.OFFLINE_MAX_ZOOM, Locator.OFFLINE_MAX_ZOOM); }
    return d.max_zoom || 18;
  };

  /** The note that streets need a tile basemap: on the offline basemap from zoom 10. */
  P.updateBasemapNote = function () {
    var note = document.getElementById('yz-basemap-note');
    if (!note) { return; }
    var d = this.basemapDefs[this.basemapId] || {};
    note.hidden = !!d.url || this.map.getZoom() < Locator.OFFLINE_NOTE_ZOOM;
  };

  P.updateMapClass = function () {
    var d = this.basemapDefs[this.basemapId] || {};
    this.map.setMaxZoom(this.basemapMaxZoom(d));
    this.updateBasemapNote();
    this.$.mapEl.classList.toggle('yz-map--no-tiles', !d.url);
    this.$.mapEl.classList.toggle('yz-map--tiles', !!d.url);
    this.$.mapEl.setAttribute('data-basemap', this.basemapId);
    this.$.mapEl.setAttribute('data-crs', this.crs);
  };

  /** Switch basemap: redraw every overlay in the new layer's coordinate system. */
  P.setBasemap = function (id) {
    if (!this.basemapLayers[id] || id === this.basemapId) { return; }
    this.map.removeLayer(this.basemapLayers[this.basemapId]);
    this.basemapLayers[id].addTo(this.map);   // fires baselayerchange only via the control
    this.onBasemapChange(id);
  };

  P.onBasemapChange = function (id) {
    if (!id || !this.basemapDefs[id]) { return; }
    var centre = this.wgs(this.map.getCenter());
    var prevId = this.basemapId;
    this.basemapId = id;
    var crs = this.basemapDefs[id].crs === 'gcj02' ? 'gcj02' : 'wgs84';
    var changed = crs !== this.crs;
    this.crs = crs;
    this.updateMapClass();
    if (changed) {
      this.map.setView(this.disp(centre.lat, centre.lon), this.map.getZoom(), { animate: false });
      this.drawOutlines();
      this.drawPoint();
      this.drawRanks();
      this.map.closePopup();
      this.renderView(this.lastView, true);
    } else if (prevId !== id) {
      this.drawOutlines();
    }
    this.updateUrl();
  };

  // ---- outlines (the offline basemap) with province / prefecture labels

  P.loadOutlines = function () {
    var self = this;
    if (!this.cfg.outlinesUrl) { return; }
    C.getJSON(this.cfg.outlinesUrl).then(function (fc) {
      self.outlineData = fc;
      self.drawOutlines();
    }).catch(function (err) {
      var d = self.basemapDefs[self.basemapId] || {};
      if (!d.url) { self.showFailure(t('outlinesFailed'), err); }
    });
  };

  P.drawOutlines = function () {
    var self = this;
    if (!this.outlineData) { return; }
    if (this.outlines) { this.map.removeLayer(this.outlines); }
    if (this.labels) { this.map.removeLayer(this.labels); }
    var noTiles = !(this.basemapDefs[this.basemapId] || {}).url;
    this.outlines = L.geoJSON(this.outlineData, {
      pane: 'yz-outlines',
      interactive: false,
      coordsToLatLng: function (c) { return self.disp(c[1], c[0]); },
      style: function () {
        return {
          color: noTiles ? '#8a8f98' : '#6b7280',
          weight: noTiles ? 1 : 0.8,
          opacity: noTiles ? 0.9 : 0.6,
          fillColor: '#fbfaf6',
          fillOpacity: noTiles ? 1 : 0
        };
      }
    }).addTo(this.map);
    if (!noTiles) { this.labels = null; return; }
    // Labels: prefectures (and provinces) at the centre of their counties' seats.
    var groups = { province: {}, prefecture: {} };
    (this.outlineData.features || []).forEach(function (f) {
      var p = f.properties || {};
      if (!isFinite(p.seat_lon) || !isFinite(p.seat_lat)) { return; }
      [['province', p.province], ['prefecture', p.prefecture]].forEach(function (lv) {
        if (isBlank(lv[1])) { return; }
        var g = groups[lv[0]][lv[1]] || (groups[lv[0]][lv[1]] = { x: 0, y: 0, n: 0 });
        g.x += p.seat_lon; g.y += p.seat_lat; g.n += 1;
      });
    });
    this.labels = L.layerGroup();
    Object.keys(groups).forEach(function (level) {
      Object.keys(groups[level]).forEach(function (name) {
        var g = groups[level][name];
        var icon = L.divIcon({ className: 'yz-label yz-label--' + level, html: '', iconSize: null });
        var m = L.marker(self.disp(g.y / g.n, g.x / g.n), {
          icon: icon, interactive: false, keyboard: false, pane: 'yz-labels'
        });
        m.on('add', function () {
          var node = m.getElement();
          if (node) {
            node.textContent = name;
            node.setAttribute('aria-hidden', 'true');
            node.setAttribute('translate', 'no');
          }
        });
        self.labels.addLayer(m);
      });
    });
    this.labels.addTo(this.map);
    this.updateLabelLevel();
    if (!this.labelZoomBound) {
      this.labelZoomBound = true;
      this.map.on('zoomend', function () { self.updateLabelLevel(); });
    }
  };

  /**
   * After a language switch: the attribution line's texts (demo note, offline outlines) and
   * Leaflet's control names in the new language (common.localiseMap).
   */
  P.refreshMapTexts = function (before) {
    var ac = this.map.attributionControl;
    if (ac && this.demoAttribution) {
      ac.removeAttribution(this.demoAttribution);
      this.demoAttribution = t('demoAttribution');
      ac.addAttribution(this.demoAttribution);
    }
    var layer = this.basemapLayers && this.basemapLayers[this.basemapId];
    if (ac && layer && this.map.hasLayer(layer) && before !== undefined) {
      ac.removeAttribution(before);
      ac.addAttribution(layer.getAttribution());
    }
    C.localiseMap(this.map);
  };

  P.updateLabelLevel = function () {
    var z = this.map.getZoom();
    this.$.mapEl.classList.toggle('yz-labels--province', z < 7);
    this.$.mapEl.classList.toggle('yz-labels--prefecture', z >= 7 && z < 11);
    this.$.mapEl.classList.toggle('yz-labels--none', z >= 11);
  };

  // ---- the stations in view: /api/clusters

  /** The view as a WGS-84 bbox, widened to whole "tiles" of the current zoom (cache key). */
  P.viewQuery = function () {
    var b = this.map.getBounds();
    var sw = this.wgs(b.getSouthWest());
    var ne = this.wgs(b.getNorthEast());
    var zoom = Math.max(0, Math.floor(this.map.getZoom()));
    var step = 360 / Math.pow(2, zoom);
    function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
    var w = clamp(Math.floor(sw.lon / step) * step, -180, 180);
    var e = clamp(Math.ceil(ne.lon / step) * step, -180, 180);
    var s = clamp(Math.floor(sw.lat / step) * step, -85, 85);
    var n = clamp(Math.ceil(ne.lat / step) * step, -85, 85);
    if (e <= w) { e = Math.min(180, w + step); }
    if (n <= s) { n = Math.min(85, s + step); }
    var bbox = [w, s, e, n].map(function (v) { return +v.toFixed(6); });
    var params = this.filterParams();
    params.bbox = bbox.join(',');
    if (this.noClusters) {   // a server without /api/clusters: plain stations in the bbox
      params.limit = 5000;
      return { params: params, url: C.apiUrl(this.apiBase, '/stations', params) };
    }
    params.zoom = zoom;
    return { params: params, url: C.apiUrl(this.apiBase, '/clusters', params) };
  };

  /** The XYZ tiles (/api/clusters/{z}/{x}/{y}) covering the view, or null to use the bbox. */
  P.viewTiles = function () {
    var params = this.filterParams();
    if (this.noClusters || this.noTiles || params.open_now) { return null; }  // open-now: by time
    var z = Math.max(0, Math.min(24, Math.floor(this.map.getZoom())));
    var n = Math.pow(2, z);
    var b = this.map.getBounds();
    var sw = this.wgs(b.getSouthWest());
    var ne = this.wgs(b.getNorthEast());
    function tx(lon) { return Math.min(n - 1, Math.max(0, Math.floor((lon / 360 + 0.5) * n))); }
    function ty(lat) {
      var s = Math.sin(Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI / 180);
      var y = 0.5 - 0.25 * Math.log((1 + s) / (1 - s)) / Math.PI;
      return Math.min(n - 1, Math.max(0, Math.floor(y * n)));
    }
    if (this.tileRev) { params.rev = this.tileRev; }
    var urls = [];
    for (var x = tx(sw.lon); x <= tx(ne.lon); x++) {
      for (var y = ty(ne.lat); y <= ty(sw.lat); y++) {
        urls.push(C.apiUrl(this.apiBase, '/clusters/' + z + '/' + x + '/' + y, params));
      }
    }
    return urls.length <= 64 ? urls : null;   // a huge screen: one bbox query instead
  };

  /** Stations in view from cacheable tiles: each tile once (browser and proxy cache it). */
  P.loadTiles = function (urls, seq) {
    var self = this;
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    this.viewAbort = ctrl;
    this.$.mapEl.setAttribute('aria-busy', 'true');
    this.status(t('loading'));
    Promise.all(urls.map(function (url) {
      if (self.cache[url]) { return self.cache[url]; }
      return C.getJSON(url, { signal: ctrl && ctrl.signal }).then(function (fc) {
        self.remember(url, fc);
        if (fc && fc.revision) { self.tileRev = fc.revision; }
        return fc;
      });
    })).then(function (fcs) {
      if (seq !== self.viewSeq) { return; }
      var merged = { type: 'FeatureCollection', features: [], total: 0 };
      fcs.forEach(function (fc) {
        merged.features = merged.features.concat((fc && fc.features) || []);
        merged.total += (fc && fc.total) || 0;
      });
      self.status('');
      self.clearError('view');  // only a failed map load's message: keep geolocation/search ones
      self.renderView(merged, false);
    }).catch(function (err) {
      if (err && err.name === 'AbortError') { return; }
      if (seq !== self.viewSeq) { return; }
      if (err.status === 404) {   // a server without tiles: bbox clusters
        self.noTiles = true;
        self.loadView();
        return;
      }
      self.status('');
      self.showFailure(t('loadFailed'), err, 'view');
    }).then(function () {
      if (seq === self.viewSeq) { self.$.mapEl.removeAttribute('aria-busy'); }
    });
  };

  P.loadView = function () {
    var self = this;
    var tiles = this.viewTiles();
    if (tiles) {
      if (this.viewAbort) { this.viewAbort.abort(); this.viewAbort = null; }
      this.loadTiles(tiles, ++this.viewSeq);
      return;
    }
    var q = this.viewQuery();
    var seq = ++this.viewSeq;
    if (this.viewAbort) { this.viewAbort.abort(); this.viewAbort = null; }
    var cached = this.cache[q.url];
    if (cached) {
      this.renderView(cached, false);
      return;
    }
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    this.viewAbort = ctrl;
    this.$.mapEl.setAttribute('aria-busy', 'true');
    if (!(this.listMode === 'nearest' && this.nearest)) { this.status(t('loading')); }  // keep the answer
    C.getJSON(q.url, { signal: ctrl && ctrl.signal }).then(function (fc) {
      if (seq !== self.viewSeq) { return; }
      self.remember(q.url, fc);
      self.status('');
      self.clearError('view');  // only a failed map load's message: keep geolocation/search ones
      self.renderView(fc, false);
    }).catch(function (err) {
      if (err && err.name === 'AbortError') { return; }
      if (seq !== self.viewSeq) { return; }
      if (err.status === 404 && !self.noClusters) {
        self.noClusters = true;
        self.loadView();
        return;
      }
      self.status('');
      self.showFailure(t('loadFailed'), err, 'view');
    }).then(function () {
      if (seq === self.viewSeq) { self.$.mapEl.removeAttribute('aria-busy'); }
    });
  };

  P.remember = function (key, value) {
    if (!(key in this.cache)) { this.cacheKeys.push(key); }
    this.cache[key] = value;
    while (this.cacheKeys.length > Locator.CACHE_MAX) { delete this.cache[this.cacheKeys.shift()]; }
  };

  /**
   * How many stations the list holds, as {n, text}, or null while unknown. With nearest
   * results, their number. Else the stations in the map's exact view: the list's own total
   * when the list answered for this view (/api/stations numberMatched), otherwise counted
   * from the last /api/clusters answer inside the view (that answer covers a wider, tile-
   * aligned box, so its `total` is not the view's count).
   */
  P.countInfo = function () {
    if (this.listMode === 'nearest' && this.nearest) {
      var k = this.nearest.feats.length;
      return { n: k, text: t('sheetNearest', { n: k }) };
    }
    var n = null;
    if (this.listData && typeof this.listData.total === 'number' &&
        this.listData.bbox === this.exactBbox()) {
      n = this.listData.total;
    } else if (this.lastView) {
      n = this.countLastView();
    }
    return n === null ? null : { n: n, text: t('countView', { n: n }) };
  };

  /** Stations of the last /api/clusters answer inside the map's view (clusters by centre). */
  P.countLastView = function () {
    var self = this;
    var b = this.map.getBounds();
    var n = 0;
    (this.lastView.features || []).forEach(function (f) {
      var p = f && f.properties;
      var c = f && f.geometry && f.geometry.coordinates;
      if (!p || !Array.isArray(c) || !b.contains(self.disp(c[1], c[0]))) { return; }
      n += p.cluster ? (Number(p.count) || 0) : 1;
    });
    return n;
  };

  /** The map's view as the WGS-84 "w,s,e,n" the list asks /api/stations for. */
  P.exactBbox = function () {
    var b = this.map.getBounds();
    var sw = this.wgs(b.getSouthWest());
    var ne = this.wgs(b.getNorthEast());
    function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
    var w = clamp(sw.lon, -180, 180);
    var e = clamp(ne.lon, -180, 180);
    var s = clamp(sw.lat, -90, 90);
    var n = clamp(ne.lat, -90, 90);
    return [w, s, Math.max(w, e), Math.max(s, n)]
      .map(function (v) { return +v.toFixed(6); }).join(',');
  };

  /** The status count: always the number of stations the list holds (or will hold). */
  P.renderCount = function () {
    if (!this.$.count) { return; }
    var info = this.countInfo();
    if (!info) { this.$.count.textContent = ''; this.$.count.setAttribute('data-count', ''); return; }
    this.$.count.setAttribute('data-count', String(info.n));
    this.$.count.textContent = info.text;
    this.renderSheet();
  };

  /** Draw one /api/clusters answer: bubbles for server clusters, markers for stations. */
  P.renderView = function (fc, force) {
    var self = this;
    if (!fc) { return; }
    this.lastView = fc;
    var feats = Array.isArray(fc.features) ? fc.features : [];
    var keep = {};
    var add = [];
    this.bubbles.clearLayers();
    if (force) { this.cluster.clearLayers(); this.byId = {}; }
    feats.forEach(function (f) {
      var p = f && f.properties;
      var c = f && f.geometry && f.geometry.coordinates;
      if (!p || !Array.isArray(c) || !isFinite(c[0]) || !isFinite(c[1])) { return; }
      if (p.cluster) {
        self.bubbles.addLayer(self.makeBubble(f));
        return;
      }
      var id = String(p.id);
      self.features[id] = f;
      if (self.ranks && self.ranks[id]) { return; }   // drawn numbered (drawRanks)
      keep[id] = true;
      var m = self.byId[id];
      if (m) {
        m.feature = f;
      } else {
        m = self.makeMarker(f);
        self.byId[id] = m;
        add.push(m);
      }
    });
    var remove = [];
    Object.keys(this.byId).forEach(function (id) {
      if (!keep[id] && id !== self.pinnedId) { remove.push(self.byId[id]); delete self.byId[id]; }
    });
    if (remove.length) { this.cluster.removeLayers(remove); }
    if (add.length) { this.cluster.addLayers(add); }
    var total = typeof fc.total === 'number' ? fc.total :
      (typeof fc.numberMatched === 'number' ? fc.numberMatched : feats.length);
    this.viewTotal = total;   // the tile-aligned box's, not the view's (see countInfo)
    this.renderCount();
    var info = this.countInfo();
    if (info && info.n === 0 && this.listMode === 'view') { this.status(t('emptyView')); }
    this.markSelectedMarker();
    C.dispatch('yizhan:results', { count: total });
  };

  /** A server cluster: a count bubble that zooms to its stations (click, Enter or Space). */
  P.makeBubble = function (f) {
    var self = this;
    var p = f.properties;
    var c = f.geometry.coordinates;
    var n = Number(p.count) || 0;
    var size = n < 100 ? 34 : (n < 1000 ? 40 : (n < 10000 ? 46 : 52));
    var cls = 'yz-bubble marker-cluster ' + (n < 100 ? 'marker-cluster-small' :
      (n < 1000 ? 'marker-cluster-medium' : 'marker-cluster-large'));
    var icon = L.divIcon({ className: cls, iconSize: [size, size], html: '' });
    var m = L.marker(this.disp(c[1], c[0]), {
      icon: icon, keyboard: true, title: t('clusterTitle', { n: n }), riseOnHover: true
    });
    m.on('add', function () {
      var node = m.getElement();
      if (!node) { return; }
      node.textContent = '';
      var inner = el('div');
      inner.appendChild(el('span', null, String(n)));
      node.appendChild(inner);
      node.setAttribute('role', 'button');
      node.setAttribute('aria-label', t('clusterTitle', { n: n }));
      node.setAttribute('data-count', String(n));
    });
    m.on('keydown', function (e) {
      var k = e.originalEvent && e.originalEvent.key;
      if (k === 'Enter' || k === ' ') { L.DomEvent.preventDefault(e.originalEvent); m.fire('click'); }
    });
    m.on('click', function () {
      if (self.map.getZoom() >= self.map.getMaxZoom()) {   // cannot zoom further: the list
        if (self.hasList) { self.setSheet(true); }
        return;
      }
      var b = p.bbox;
      if (Array.isArray(b) && b.length === 4) {
        var bounds = L.latLngBounds([self.disp(b[1], b[0]), self.disp(b[3], b[2])]);
        if (bounds.getNorthEast().equals(bounds.getSouthWest())) {
          self.map.setView(bounds.getCenter(), Math.min(18, self.map.getZoom() + 3));
        } else {
          self.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 18 });
        }
      } else {
        self.map.setView(m.getLatLng(), Math.min(18, self.map.getZoom() + 2));
      }
    });
    return m;
  };

  /** A station marker: selects the station on click, Enter or Space. */
  P.makeMarker = function (f) {
    var p = f.properties;
    var c = f.geometry.coordinates;
    var cls = 'yz-marker yz-marker--' + String(p.kind || 'other').replace(/[^a-z0-9_-]/gi, '');
    if (p.status && p.status !== 'open') { cls += ' yz-marker--inactive'; }
    var name = F.stationName(p);
    var marker = L.marker(this.disp(c[1], c[0]), {
      icon: L.divIcon({ className: cls, iconSize: [22, 22], iconAnchor: [11, 11],
        popupAnchor: [0, -10] }),
      title: p.kind_label ? t('markerTitle', { name: name, kind: F.kindLabel(p, this.kinds) }) : name,
      alt: name,
      keyboard: true,
      riseOnHover: true
    });
    var self = this;
    marker.feature = f;
    marker.stationId = String(p.id);
    marker.on('click', function () { self.select(marker.stationId, 'map'); });
    marker.on('keydown', function (e) {   // Leaflet only opens bound popups on Enter
      var k = e.originalEvent && e.originalEvent.key;
      if (k === 'Enter' || k === ' ') {
        L.DomEvent.preventDefault(e.originalEvent);
        self.select(marker.stationId, 'map');
      }
    });
    marker.on('add', function () {
      var node = marker.getElement();
      if (node) {
        node.setAttribute('data-station-id', marker.stationId);
        node.setAttribute('translate', 'no');   // named by the station's name
        node.setAttribute('role', 'button');
        node.setAttribute('aria-label', name);
        node.classList.toggle('yz-marker--selected', marker.stationId === self.selectedId);
      }
    });
    return marker;
  };

  /** The nearest answer's stations as numbered markers 1..N (the list's numbers), above the rest. */
  P.drawRanks = function () {
    var self = this;
    if (!this.rankLayer) { this.rankLayer = L.layerGroup().addTo(this.map); }
    this.rankLayer.clearLayers();
    var hadRanks = this.ranks && Object.keys(this.ranks).length > 0;
    this.ranks = {};
    this.rankMarkers = {};
    if (this.listMode !== 'nearest' || !this.nearest) {
      if (hadRanks && this.lastView) { this.renderView(this.lastView, false); }  // plain dots back
      return;
    }
    this.nearest.feats.forEach(function (f, i) {
      var c = f && f.geometry && f.geometry.coordinates;
      if (!f.properties || !Array.isArray(c)) { return; }
      var p = f.properties;
      var rank = i + 1;
      var id = String(p.id);
      self.ranks[id] = rank;
      var cls = 'yz-marker yz-marker--ranked yz-marker--' +
        String(p.kind || 'other').replace(/[^a-z0-9_-]/gi, '');
      if (p.status && p.status !== 'open') { cls += ' yz-marker--inactive'; }
      var name = F.stationName(p);
      var m = L.marker(self.disp(c[1], c[0]), {
        icon: L.divIcon({ className: cls, iconSize: [26, 26], iconAnchor: [13, 13],
          popupAnchor: [0, -12], html: '' }),
        title: t('rankTitle', { n: rank, name: name }),
        keyboard: true,
        riseOnHover: true,
        zIndexOffset: 1000 - rank
      });
      m.on('add', function () {
        var node = m.getElement();
        if (!node) { return; }
        node.textContent = String(rank);
        node.setAttribute('data-station-id', id);
        node.setAttribute('data-rank', String(rank));
        node.setAttribute('translate', 'no');
        node.setAttribute('role', 'button');
        node.setAttribute('aria-label', t('rankTitle', { n: rank, name: name }));
      });
      m.on('click', function () { self.select(id, 'map'); });
      m.on('keydown', function (e) {
        var k = e.originalEvent && e.originalEvent.key;
        if (k === 'Enter' || k === ' ') { L.DomEvent.preventDefault(e.originalEvent); self.select(id, 'map'); }
      });
      self.rankLayer.addLayer(m);
      self.rankMarkers[id] = m;
      var plain = self.byId[id];   // one dot per station: the numbered one replaces the plain
      if (plain) { self.cluster.removeLayer(plain); delete self.byId[id]; }
      if (self.pinnedId === id) { self.pinnedId = null; }
    });
    this.markSelectedMarker();
  };

  /** The legend: a dot per station kind, the count bubble, the numbered dot, grey. */
  P.renderLegend = function () {
    var self = this;
    var list = document.getElementById('yz-legend-list');
    if (!list) { return; }
    list.textContent = '';
    this.kindOrder.forEach(function (code) {
      var li = el('li', 'yz-legend-kind');
      li.appendChild(el('span', 'yz-legend-dot yz-marker yz-marker--' +
        String(code).replace(/[^a-z0-9_-]/gi, '')));
      li.appendChild(el('span', 'yz-legend-text', F.kindLabel({ kind: code }, self.kinds)));
      list.appendChild(li);
    });
    var cl = el('li', 'yz-legend-cluster');
    var bubble = el('span', 'yz-legend-bubble marker-cluster marker-cluster-small');
    bubble.appendChild(el('span', null, '12'));
    cl.appendChild(bubble);
    cl.appendChild(el('span', 'yz-legend-text', t('legendCluster')));
    list.appendChild(cl);
    var rk = el('li', 'yz-legend-rank');
    rk.appendChild(el('span', 'yz-legend-dot yz-marker yz-marker--ranked', '1'));
    rk.appendChild(el('span', 'yz-legend-text', t('legendRank')));
    list.appendChild(rk);
    var off = el('li', 'yz-legend-inactive');
    off.appendChild(el('span', 'yz-legend-dot yz-marker yz-marker--inactive'));
    off.appendChild(el('span', 'yz-legend-text', t('legendInactive')));
    list.appendChild(off);
  };

  P.markSelectedMarker = function () {
    var self = this;
    [this.byId, this.rankMarkers || {}].forEach(function (markers) {
      Object.keys(markers).forEach(function (id) {
        var node = markers[id].getElement && markers[id].getElement();
        if (node) { node.classList.toggle('yz-marker--selected', id === self.selectedId); }
      });
    });
  };
}(window.Yizhan = window.Yizhan || {}));
