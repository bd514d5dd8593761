/*
 * Yizhan public locator: map of union service stations + "nearest to me" list.
 *
 * No framework, no build step, no inline handlers (CSP-friendly). Configuration comes from the
 * JSON block #yz-config rendered by webapp/templates/index.html. Every string from the API is
 * put into the page with textContent / setAttribute, never innerHTML, so station names and
 * addresses are always shown as text.
 */
(function () {
  'use strict';

  var T = {
    loading: '正在加载站点…',
    count: function (n) { return '共 ' + n + ' 个站点'; },
    countKind: function (label, n) { return label + '：' + n + ' 个站点'; },
    allKinds: '全部类型',
    loadFailed: '站点加载失败',
    kindsFailed: '站点类型加载失败，类型筛选暂不可用',
    outlinesFailed: '行政区划底图加载失败',
    nearestFailed: '附近站点查询失败',
    network: '网络连接失败，请稍后重试',
    locating: '正在获取您的位置…',
    searching: '正在查找最近的站点…',
    pickHint: '请在地图上点击选择位置',
    geoUnsupported: '您的浏览器不支持定位。请使用“在地图上点选”选择位置。',
    geoInsecure: '浏览器只允许在 HTTPS 页面上定位。请使用“在地图上点选”选择位置。',
    geoDenied: '无法获取您的位置：定位权限被拒绝。请在浏览器设置中允许本网站使用位置信息，' +
      '或使用“在地图上点选”选择位置。',
    geoUnavailable: '无法确定您的位置（定位信号不可用）。请使用“在地图上点选”选择位置。',
    geoTimeout: '获取位置超时。请重试，或使用“在地图上点选”选择位置。',
    myLocation: '您的位置',
    pickedLocation: '选定的位置',
    resultsTitleMine: '离您最近的站点',
    resultsTitlePicked: '离选定位置最近的站点',
    resultsNote: '按直线距离排序，实际路程可能更远。',
    found: function (n) { return '找到 ' + n + ' 个最近的站点。'; },
    none: '附近没有符合条件的站点。',
    showOnMap: '在地图上查看',
    kind: '类型',
    services: '服务',
    hours: '开放时间',
    phone: '电话',
    address: '地址',
    distance: '距离',
    openNow: '现在开放',
    closedNow: '现在未开放',
    status: { closed: '已关闭', planned: '筹建中' },
    demoBadge: '演示',
    approx: '位置为近似',
    precision: {
      street: '街道级', village: '村级', township: '乡镇级', county: '县级',
      prefecture: '地市级', unknown: '未知'
    },
    navigate: '高德地图导航',
    demoAttribution: '演示数据（示例站点，位置近似）',
    meters: ' 米',
    kilometers: ' 公里',
    unnamed: '（未命名站点）'
  };

  var PAGE_SIZE = 1000;

  // ---------------------------------------------------------------- helpers

  function readConfig() {
    var el = document.getElementById('yz-config');
    try {
      return JSON.parse(el ? el.textContent : '{}') || {};
    } catch (e) {
      return {};
    }
  }

  /** Format a distance in metres as Chinese text: "850 米", "3.2 公里", "125 公里". */
  function formatDistance(m) {
    if (typeof m !== 'number' || !isFinite(m)) { return ''; }
    var rounded = Math.round(m);
    if (rounded < 1000) { return rounded + T.meters; }
    var km = m / 1000;
    return (km < 100 ? km.toFixed(1) : String(Math.round(km))) + T.kilometers;
  }

  /** Create an element with a class and (escaped) text. */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function isBlank(v) {
    return v === undefined || v === null || String(v).trim() === '';
  }

  function apiUrl(base, path, params) {
    var qs = [];
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (!isBlank(v)) { qs.push(encodeURIComponent(k) + '=' + encodeURIComponent(v)); }
    });
    return base.replace(/\/+$/, '') + path + (qs.length ? '?' + qs.join('&') : '');
  }

  /** fetch JSON; reject with an Error whose message is user-readable (API error.message). */
  function getJSON(url) {
    return fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .catch(function () { throw new Error(T.network); })
      .then(function (resp) {
        return resp.text().then(function (body) {
          var data = null;
          try { data = body ? JSON.parse(body) : null; } catch (e) { data = null; }
          if (!resp.ok) {
            var msg = data && data.error && data.error.message;
            var err = new Error(msg ? String(msg) : 'HTTP ' + resp.status);
            err.status = resp.status;
            err.parameter = data && data.error && data.error.parameter;
            throw err;
          }
          if (data === null) { throw new Error('服务器返回的数据无法解析'); }
          return data;
        });
      });
  }

  function stationAddress(p) {
    if (!isBlank(p.address)) { return String(p.address); }
    return [p.province, p.prefecture, p.county, p.township, p.village]
      .filter(function (x) { return !isBlank(x); }).join('');
  }

  function telHref(phone) {
    var digits = String(phone).replace(/[^0-9+]/g, '');
    return digits ? 'tel:' + digits : null;
  }

  function amapHref(lon, lat, name) {
    // Amap URI API; coordinate=wgs84 because the API serves WGS-84 (DESIGN §3).
    return 'https://uri.amap.com/marker?position=' + encodeURIComponent(lon + ',' + lat) +
      '&name=' + encodeURIComponent(name || '') + '&coordinate=wgs84&callnative=1';
  }

  // ---------------------------------------------------------------- popup

  function buildPopup(feature) {
    var p = feature.properties || {};
    var c = feature.geometry && feature.geometry.coordinates;
    var root = el('div', 'yz-popup');
    root.setAttribute('data-station-id', String(p.id));

    var title = el('h3', 'yz-popup-name', isBlank(p.name) ? T.unnamed : p.name);
    root.appendChild(title);
    if (!isBlank(p.name_en)) {
      var en = el('p', 'yz-popup-name-en', p.name_en);
      en.setAttribute('lang', 'en');
      root.appendChild(en);
    }

    var tags = el('p', 'yz-popup-tags');
    tags.appendChild(el('span', 'yz-tag yz-tag--kind', p.kind_label || p.kind || ''));
    if (p.status && p.status !== 'open' && T.status[p.status]) {
      tags.appendChild(el('span', 'yz-tag yz-tag--status', T.status[p.status]));
    }
    if (p.demo) { tags.appendChild(el('span', 'yz-tag yz-tag--demo', T.demoBadge)); }
    root.appendChild(tags);

    var dl = el('dl', 'yz-popup-facts');
    function fact(label, valueNode) {
      dl.appendChild(el('dt', null, label));
      var dd = el('dd');
      dd.appendChild(valueNode);
      dl.appendChild(dd);
    }

    if (typeof p.distance_m === 'number') {
      fact(T.distance, document.createTextNode(formatDistance(p.distance_m)));
    }
    var labels = Array.isArray(p.service_labels) && p.service_labels.length ?
      p.service_labels : (Array.isArray(p.services) ? p.services : []);
    if (labels.length) {
      var ul = el('ul', 'yz-services');
      labels.forEach(function (s) { ul.appendChild(el('li', 'yz-service', s)); });
      fact(T.services, ul);
    }
    if (!isBlank(p.hours) || p.open_now === true || p.open_now === false) {
      var hours = el('span');
      if (!isBlank(p.hours)) { hours.appendChild(el('span', 'yz-hours', p.hours)); }
      if (p.open_now === true || p.open_now === false) {
        hours.appendChild(el('span', 'yz-open yz-open--' + (p.open_now ? 'yes' : 'no'),
          p.open_now ? T.openNow : T.closedNow));
      }
      fact(T.hours, hours);
    }
    if (!isBlank(p.phone)) {
      var href = telHref(p.phone);
      var phone;
      if (href) {
        phone = el('a', 'yz-phone', p.phone);
        phone.setAttribute('href', href);
      } else {
        phone = el('span', null, p.phone);
      }
      fact(T.phone, phone);
    }
    var addr = stationAddress(p);
    if (addr) {
      var a = el('span', null, addr);
      if (p.demo || (p.precision && p.precision !== 'exact')) {
        var prec = T.precision[p.precision];
        a.appendChild(el('span', 'yz-approx',
          '（' + T.approx + (prec ? '，' + prec : '') + '）'));
      }
      fact(T.address, a);
    }
    root.appendChild(dl);

    if (Array.isArray(c) && c.length >= 2) {
      var nav = el('a', 'yz-nav', T.navigate);
      nav.setAttribute('href', amapHref(c[0], c[1], p.name));
      nav.setAttribute('target', '_blank');
      nav.setAttribute('rel', 'noopener noreferrer');
      root.appendChild(nav);
    }
    return root;
  }

  // ---------------------------------------------------------------- app

  function Locator(cfg) {
    this.cfg = cfg;
    this.apiBase = cfg.apiBase || '/api';
    this.features = [];          // all stations (unfiltered)
    this.byId = {};              // id -> {feature, marker}
    this.kinds = {};             // code -> zh label
    this.kind = '';
    this.point = null;           // {lat, lon, source: 'geo'|'pick'}
    this.picking = false;
    this.nearestSeq = 0;
    this.stationsLoaded = false;

    this.$ = {
      locate: document.getElementById('yz-locate'),
      pick: document.getElementById('yz-pick'),
      kind: document.getElementById('yz-kind'),
      count: document.getElementById('yz-count'),
      statusText: document.getElementById('yz-status-text'),
      error: document.getElementById('yz-error'),
      resultsBox: document.getElementById('yz-results-box'),
      resultsTitle: document.getElementById('yz-results-title'),
      resultsNote: document.getElementById('yz-results-note'),
      results: document.getElementById('yz-results'),
      pickHint: document.getElementById('yz-pick-hint'),
      hint: document.getElementById('yz-hint'),
      mapEl: document.getElementById('yz-map')
    };
  }

  Locator.prototype.init = function () {
    var self = this;
    var cfg = this.cfg;
    var center = Array.isArray(cfg.center) && cfg.center.length >= 2 ? cfg.center : [108.3, 22.8];
    var map = this.map = L.map(this.$.mapEl, {
      center: [center[1], center[0]],
      zoom: typeof cfg.zoom === 'number' ? cfg.zoom : 6,
      minZoom: 3,
      maxZoom: 18,
      zoomControl: true,
      keyboard: true,
      worldCopyJump: false
    });
    map.attributionControl.setPrefix(false);
    if (cfg.demo) { map.attributionControl.addAttribution(T.demoAttribution); }
    if (Array.isArray(cfg.bounds) && cfg.bounds.length === 4) {
      // Open on every station: [min_lon, min_lat, max_lon, max_lat].
      map.fitBounds([[cfg.bounds[1], cfg.bounds[0]], [cfg.bounds[3], cfg.bounds[2]]],
        { padding: [24, 24], maxZoom: 12, animate: false });
    }
    if (cfg.outlinesAttribution) { map.attributionControl.addAttribution(cfg.outlinesAttribution); }

    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, {
        attribution: cfg.tileAttribution || '',
        maxZoom: 18,
        crossOrigin: false
      }).addTo(map);
      this.$.mapEl.classList.add('yz-map--tiles');
    } else {
      this.$.mapEl.classList.add('yz-map--no-tiles');
    }

    map.createPane('yz-outlines');
    map.getPane('yz-outlines').style.zIndex = 250;   // above tiles, below overlays/markers
    map.getPane('yz-outlines').style.pointerEvents = 'none';

    this.cluster = L.markerClusterGroup({
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      maxClusterRadius: 50,
      chunkedLoading: true
    });
    map.addLayer(this.cluster);
    this.pointLayer = L.layerGroup().addTo(map);

    if (typeof ResizeObserver === 'function') {
      // The grid layout resizes the map when the result list appears; tell Leaflet.
      new ResizeObserver(function () { map.invalidateSize({ pan: false }); })
        .observe(this.$.mapEl);
    }
    this.moving = false;
    map.on('movestart zoomstart', function () { self.moving = true; });
    map.on('moveend zoomend', function () { self.moving = false; });
    map.on('click', function (e) { self.onMapClick(e); });
    map.on('popupclose', function () { self.markCurrent(null); });
    this.$.mapEl.addEventListener('keydown', function (e) { self.onMapKey(e); });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && self.picking) { self.setPicking(false); }
    });

    this.$.locate.addEventListener('click', function () { self.locate(); });
    this.$.pick.addEventListener('click', function () { self.setPicking(!self.picking); });
    this.$.kind.addEventListener('change', function () { self.setKind(self.$.kind.value); });

    this.loadOutlines();
    this.loadKinds();
    this.loadStations();
  };

  // ---- messages

  Locator.prototype.status = function (text) {
    this.$.statusText.textContent = text ? ' · ' + text : '';
  };

  Locator.prototype.showError = function (text) {
    var box = this.$.error;
    box.textContent = '';
    if (!text) { box.hidden = true; return; }
    box.appendChild(el('span', 'yz-error-text', text));
    var close = el('button', 'yz-error-close', '×');
    close.type = 'button';
    close.setAttribute('aria-label', '关闭提示');
    close.addEventListener('click', function () { box.hidden = true; box.textContent = ''; });
    box.appendChild(close);
    box.hidden = false;
  };

  // ---- data loading

  Locator.prototype.loadOutlines = function () {
    var self = this;
    if (!this.cfg.outlinesUrl) { return; }
    getJSON(this.cfg.outlinesUrl).then(function (fc) {
      var noTiles = !self.cfg.tileUrl;
      self.outlines = L.geoJSON(fc, {
        pane: 'yz-outlines',
        interactive: false,
        style: function () {
          return {
            color: noTiles ? '#8a8f98' : '#6b7280',
            weight: noTiles ? 1 : 0.8,
            opacity: noTiles ? 0.9 : 0.6,
            fillColor: '#fbfaf6',
            fillOpacity: noTiles ? 1 : 0
          };
        }
      }).addTo(self.map);
    }).catch(function (err) {
      if (!self.cfg.tileUrl) { self.showError(T.outlinesFailed + '：' + err.message); }
    });
  };

  Locator.prototype.loadKinds = function () {
    var self = this;
    getJSON(apiUrl(this.apiBase, '/kinds')).then(function (kinds) {
      if (!Array.isArray(kinds)) { throw new Error('格式错误'); }
      kinds.forEach(function (k) {
        if (!k || isBlank(k.code)) { return; }
        self.kinds[k.code] = k.zh || k.en || k.code;
        var opt = el('option', null, self.kinds[k.code]);
        opt.value = String(k.code);
        self.$.kind.appendChild(opt);
      });
      self.updateKindCounts();
    }).catch(function (err) {
      self.$.kind.disabled = true;
      self.showError(T.kindsFailed + '：' + err.message);
    });
  };

  Locator.prototype.loadStations = function () {
    var self = this;
    var all = [];
    this.status(T.loading);
    this.$.mapEl.setAttribute('aria-busy', 'true');

    function page(offset) {
      return getJSON(apiUrl(self.apiBase, '/stations', { limit: PAGE_SIZE, offset: offset }))
        .then(function (fc) {
          var feats = (fc && Array.isArray(fc.features)) ? fc.features : [];
          Array.prototype.push.apply(all, feats);
          var matched = typeof fc.numberMatched === 'number' ? fc.numberMatched : null;
          if (feats.length > 0 && matched !== null && all.length < matched) {
            return page(offset + feats.length);
          }
          return all;
        });
    }

    page(0).then(function (feats) {
      self.features = feats.filter(function (f) {
        var c = f && f.geometry && f.geometry.coordinates;
        return f.properties && Array.isArray(c) && isFinite(c[0]) && isFinite(c[1]);
      });
      self.stationsLoaded = true;
      self.renderMarkers(true);
      self.updateKindCounts();
      self.status('');
    }).catch(function (err) {
      self.status('');
      self.$.count.textContent = '';
      self.showError(T.loadFailed + '：' + err.message);
    }).then(function () {
      self.$.mapEl.removeAttribute('aria-busy');
    });
  };

  // ---- markers

  Locator.prototype.makeMarker = function (f) {
    var p = f.properties;
    var c = f.geometry.coordinates;
    var cls = 'yz-marker yz-marker--' + String(p.kind || 'other').replace(/[^a-z0-9_-]/gi, '');
    if (p.status && p.status !== 'open') { cls += ' yz-marker--inactive'; }
    var marker = L.marker([c[1], c[0]], {
      icon: L.divIcon({ className: cls, iconSize: [22, 22], iconAnchor: [11, 11],
        popupAnchor: [0, -10] }),
      title: (isBlank(p.name) ? T.unnamed : String(p.name)) +
        (p.kind_label ? '（' + p.kind_label + '）' : ''),
      keyboard: true,
      riseOnHover: true
    });
    var self = this;
    marker.bindPopup(function () {
      L.setOptions(marker.getPopup(), self.popupOptions());   // the map may have resized
      return buildPopup(marker.feature);
    }, this.popupOptions());
    marker.feature = f;
    marker.stationId = String(p.id);
    marker.on('popupopen', function () { self.markCurrent(marker.stationId); });
    return marker;
  };

  Locator.prototype.visibleFeatures = function () {
    var kind = this.kind;
    return this.features.filter(function (f) { return !kind || f.properties.kind === kind; });
  };

  Locator.prototype.renderMarkers = function (initial) {
    var self = this;
    var feats = this.visibleFeatures();
    this.cluster.clearLayers();
    this.byId = {};
    var markers = feats.map(function (f) {
      var m = self.makeMarker(f);
      self.byId[m.stationId] = m;
      return m;
    });
    this.cluster.addLayers(markers);

    var n = feats.length;
    this.$.count.setAttribute('data-count', String(n));
    this.$.count.textContent = this.kind ?
      T.countKind(this.kinds[this.kind] || this.kind, n) : T.count(n);

    if (initial && markers.length) {
      // Respect the configured view, but never open on an empty map.
      var bounds = this.cluster.getBounds();
      var view = this.map.getBounds();
      var anyInView = markers.some(function (m) { return view.contains(m.getLatLng()); });
      if (!anyInView && bounds.isValid()) {
        this.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 12 });
      }
    }
  };

  Locator.prototype.updateKindCounts = function () {
    if (!this.stationsLoaded) { return; }
    var counts = {};
    this.features.forEach(function (f) {
      counts[f.properties.kind] = (counts[f.properties.kind] || 0) + 1;
    });
    var opts = this.$.kind.options;
    for (var i = 0; i < opts.length; i++) {
      var code = opts[i].value;
      var label = code ? (this.kinds[code] || code) : T.allKinds;
      var n = code ? (counts[code] || 0) : this.features.length;
      opts[i].textContent = label + '（' + n + '）';
    }
  };

  Locator.prototype.setKind = function (kind) {
    this.kind = kind || '';
    this.map.closePopup();
    this.renderMarkers(false);
    if (this.point) { this.searchNearest(this.point); }
  };

  // ---- choosing a point

  Locator.prototype.setPicking = function (on) {
    this.picking = !!on;
    this.$.pick.setAttribute('aria-pressed', on ? 'true' : 'false');
    this.$.pick.classList.toggle('yz-btn--active', this.picking);
    this.$.mapEl.classList.toggle('yz-map--picking', this.picking);
    this.$.pickHint.hidden = !this.picking;
    this.status(this.picking ? T.pickHint : '');
    if (this.picking) { this.$.mapEl.focus({ preventScroll: true }); }
  };

  Locator.prototype.onMapClick = function (e) {
    if (!this.picking) { return; }
    this.setPicking(false);
    this.choosePoint(e.latlng.lat, e.latlng.lng, 'pick');
  };

  Locator.prototype.onMapKey = function (e) {
    if (!this.picking || e.target !== this.$.mapEl) { return; }
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      var c = this.map.getCenter();
      this.setPicking(false);
      this.choosePoint(c.lat, c.lng, 'pick');
    }
  };

  Locator.prototype.locate = function () {
    var self = this;
    if (this.picking) { this.setPicking(false); }
    if (!('geolocation' in navigator)) {
      this.showError(window.isSecureContext === false ? T.geoInsecure : T.geoUnsupported);
      return;
    }
    this.showError('');
    this.status(T.locating);
    this.$.locate.disabled = true;
    navigator.geolocation.getCurrentPosition(function (pos) {
      self.$.locate.disabled = false;
      self.choosePoint(pos.coords.latitude, pos.coords.longitude, 'geo', pos.coords.accuracy);
    }, function (err) {
      self.$.locate.disabled = false;
      self.status('');
      var msg = T.geoUnavailable;
      if (err && err.code === 1) {
        msg = window.isSecureContext === false ? T.geoInsecure : T.geoDenied;
      } else if (err && err.code === 3) {
        msg = T.geoTimeout;
      }
      self.showError(msg);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  };

  Locator.prototype.choosePoint = function (lat, lon, source, accuracy) {
    this.point = { lat: lat, lon: lon, source: source };
    this.pointLayer.clearLayers();
    var label = source === 'geo' ? T.myLocation : T.pickedLocation;
    if (typeof accuracy === 'number' && accuracy > 30 && accuracy < 5000) {
      L.circle([lat, lon], {
        radius: accuracy, interactive: false, className: 'yz-accuracy',
        color: '#1565c0', weight: 1, fillOpacity: 0.08
      }).addTo(this.pointLayer);
    }
    L.circleMarker([lat, lon], {
      radius: 9, className: 'yz-point', color: '#ffffff', weight: 3,
      fillColor: '#1565c0', fillOpacity: 1
    }).bindTooltip(label, { direction: 'top', offset: [0, -8] }).addTo(this.pointLayer);
    this.searchNearest(this.point);
  };

  // ---- nearest

  Locator.prototype.searchNearest = function (point) {
    var self = this;
    var seq = ++this.nearestSeq;
    this.showError('');
    this.status(T.searching);
    this.$.results.setAttribute('aria-busy', 'true');
    var url = apiUrl(this.apiBase, '/nearest', {
      lon: point.lon.toFixed(6), lat: point.lat.toFixed(6), k: 5, kind: this.kind
    });
    getJSON(url).then(function (fc) {
      if (seq !== self.nearestSeq) { return; }
      var feats = (fc && Array.isArray(fc.features)) ? fc.features : [];
      self.renderResults(feats, point);
    }).catch(function (err) {
      if (seq !== self.nearestSeq) { return; }
      self.status('');
      self.showError(T.nearestFailed + '：' + err.message);
    }).then(function () {
      if (seq === self.nearestSeq) { self.$.results.removeAttribute('aria-busy'); }
    });
  };

  Locator.prototype.renderResults = function (feats, point) {
    var self = this;
    var list = this.$.results;
    list.textContent = '';
    this.$.resultsTitle.textContent = point.source === 'geo' ?
      T.resultsTitleMine : T.resultsTitlePicked;
    this.$.resultsNote.textContent = feats.length ? T.resultsNote : T.none;
    this.$.resultsBox.hidden = false;
    if (this.$.hint) { this.$.hint.hidden = true; }

    var bounds = L.latLngBounds([[point.lat, point.lon]]);
    feats.forEach(function (f, i) {
      var p = f.properties || {};
      var c = f.geometry && f.geometry.coordinates;
      if (!Array.isArray(c)) { return; }
      var id = String(p.id);
      var marker = self.byId[id];
      if (!marker) {      // not in the loaded set (e.g. still loading): add it
        marker = self.makeMarker(f);
        self.byId[id] = marker;
        self.cluster.addLayer(marker);
      }
      marker.feature = f;  // carries distance_m for the popup
      bounds.extend(marker.getLatLng());

      var li = el('li', 'yz-result');
      li.setAttribute('data-station-id', id);
      li.setAttribute('data-distance-m', String(p.distance_m));
      var btn = el('button', 'yz-result-btn');
      btn.type = 'button';
      var name = isBlank(p.name) ? T.unnamed : String(p.name);
      btn.appendChild(el('span', 'yz-result-rank', String(i + 1)));
      var body = el('span', 'yz-result-body');
      body.appendChild(el('span', 'yz-result-name', name));
      var meta = el('span', 'yz-result-meta');
      meta.appendChild(el('span', 'yz-result-kind', p.kind_label || p.kind || ''));
      if (p.open_now === true || p.open_now === false) {
        meta.appendChild(el('span', 'yz-open yz-open--' + (p.open_now ? 'yes' : 'no'),
          p.open_now ? T.openNow : T.closedNow));
      }
      body.appendChild(meta);
      btn.appendChild(body);
      btn.appendChild(el('span', 'yz-result-distance', formatDistance(p.distance_m)));
      btn.setAttribute('aria-label', name + '，' + (p.kind_label || '') + '，' +
        T.distance + ' ' + formatDistance(p.distance_m) + '，' + T.showOnMap);
      btn.addEventListener('click', function () { self.focusStation(id); });
      li.appendChild(btn);
      list.appendChild(li);
    });

    this.status(feats.length ? T.found(feats.length) : T.none);
    this.map.invalidateSize({ pan: false });   // the list may have shrunk the map
    if (feats.length) {
      this.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 15 });
    } else {
      this.map.setView([point.lat, point.lon], Math.max(this.map.getZoom(), 12));
    }
  };

  /** Zoom until the station's marker is out of its cluster, then open its popup. */
  Locator.prototype.focusStation = function (id) {
    var self = this;
    var marker = this.byId[id];
    if (!marker) { return; }
    var done = false;
    function open() {
      if (done) { return; }
      done = true;
      // A popup on the map, not on the marker: the cluster may still re-render the marker
      // after its zoom animation, which would close a popup bound to it.
      self.map.closePopup();
      L.popup(L.extend(self.popupOptions(), { offset: [0, -3] }))   // above the 22 px dot
        .setLatLng(marker.getLatLng())
        .setContent(buildPopup(marker.feature))
        .openOn(self.map);
      self.markCurrent(id);
    }
    function show() {
      self.cluster.zoomToShowLayer(marker, open);
      window.setTimeout(open, 1500);   // zoomToShowLayer can miss its callback
    }
    // Starting a zoom while a fitBounds animation runs loses the callback: wait for it.
    if (this.moving) { this.map.once('moveend', show); } else { show(); }
  };

  /** Popup options that keep it inside the (possibly small, phone) map. */
  Locator.prototype.popupOptions = function () {
    var size = this.map.getSize();
    var maxWidth = Math.max(180, Math.min(300, size.x - 90));
    return {
      maxWidth: maxWidth,
      minWidth: Math.min(200, maxWidth),
      maxHeight: Math.max(140, size.y - 56),
      autoPanPaddingTopLeft: [54, 12],      // clear of the zoom buttons
      autoPanPaddingBottomRight: [12, 24]   // clear of the attribution
    };
  };

  Locator.prototype.markCurrent = function (id) {
    var items = this.$.results.querySelectorAll('li[data-station-id]');
    for (var i = 0; i < items.length; i++) {
      var on = id !== null && items[i].getAttribute('data-station-id') === id;
      items[i].classList.toggle('yz-result--current', on);
      var b = items[i].querySelector('button');
      if (on) { b.setAttribute('aria-current', 'true'); } else { b.removeAttribute('aria-current'); }
    }
  };

  // ---------------------------------------------------------------- boot

  function boot() {
    var cfg = readConfig();
    if (typeof L === 'undefined' || !L.markerClusterGroup) {
      var box = document.getElementById('yz-error');
      if (box) { box.textContent = '地图组件加载失败，请刷新页面重试。'; box.hidden = false; }
      return;
    }
    var app = new Locator(cfg);
    app.init();
    window.YizhanLocator = { app: app, formatDistance: formatDistance };
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', boot);
  } else {
    boot();
  }
}());
