/*
 * Yizhan public locator: map of union service stations, list, nearest by travel time.
 *
 * No framework, no build step, no inline handlers (CSP-friendly). Configuration comes from the
 * JSON block #yz-config rendered by webapp/templates/_locator.html (webapp/public.py
 * locator_config). Every string from the API is put into the page with textContent /
 * setAttribute, never innerHTML, so station names and addresses are always shown as text.
 *
 * Data per view: GET /api/clusters?bbox=&zoom=&kind=&service=&open_now= gives server clusters
 * (count bubbles) and single stations (grouped further by Leaflet.markercluster); moveend is
 * debounced, stale requests are aborted, answers are cached by a tile-aligned key. The list
 * is the accessible alternative to the map: every station in the view, paged
 * (/api/stations?bbox=), or the nearest by travel time (/api/nearest?mode=).
 *
 * Events on document: yizhan:ready, yizhan:select {id, name, kind, lon, lat, url},
 * yizhan:results {count}.
 *
 * The same file also drives the small map of a station page (#yz-station-map).
 */
(function () {
  'use strict';

  var CRS = window.YizhanCRS || {
    wgs84ToGcj02: function (lon, lat) { return [lon, lat]; },
    gcj02ToWgs84: function (lon, lat) { return [lon, lat]; }
  };

  // ---------------------------------------------------------------- strings

  var I18N = {
    zh: {
      skip: '跳到站点查找',
      title: '工会服务站点地图',
      demoLabel: '演示数据：',
      demoText: '站点为示例，位置为近似，仅供参考',
      panelTitle: '查找附近站点',
      langSwitch: 'English',
      langSwitchLabel: 'Switch to English',
      searchLabel: '输入地址查找附近站点',
      searchPlaceholder: '输入地址，如：柳州市鱼峰区',
      searchButton: '搜索',
      locate: '使用我的位置',
      locateLabel: '使用我的位置，查找最近的站点',
      pick: '在地图上点选',
      pickLabel: '在地图上点选位置，查找最近的站点',
      kind: '类型',
      allKinds: '全部类型',
      mode: '出行',
      modeWalk: '步行',
      modeEbike: '电动车',
      modeCar: '驾车',
      openNowFilter: '只看现在开放',
      servicesFilter: '按服务筛选',
      servicesLegend: '站点须提供以下全部服务',
      hint: '输入地址、点击“使用我的位置”，或在地图上点选一个地点，按预计路程时间查找最近的站点。' +
        '点击地图上的站点查看开放时间、服务和电话。',
      mapLabel: '站点地图（可用方向键平移，加减号缩放；站点列表是地图的文字版本）',
      pickHintLong: '请点击地图选择位置（键盘：移动地图后按回车选择地图中心，Esc 取消）',
      wheelHint: '点击地图后可用滚轮缩放',
      resultsTitleView: '地图范围内的站点',
      resultsTitleMine: '离您最近的站点',
      resultsTitlePicked: '离选定位置最近的站点',
      resultsTitleSearch: '离搜索地点最近的站点',
      listView: '列出地图范围内站点',
      share: '分享',
      shareLabel: '复制此链接分享当前地图：',
      shareCopied: '链接已复制，可以粘贴分享。',
      shareManual: '请复制下面的链接。',
      prevPage: '上一页',
      nextPage: '下一页',
      page: function (a, b, n) { return a + '–' + b + ' / 共 ' + n + ' 个'; },
      noscript: '本页面需要启用 JavaScript 才能显示地图。',
      loading: '正在加载站点…',
      countView: function (n) { return '地图范围内 ' + n + ' 个站点'; },
      emptyView: '地图范围内没有符合条件的站点。请缩小地图、移动地图或更改筛选条件。',
      loadFailed: '站点加载失败',
      kindsFailed: '站点类型加载失败，类型筛选暂不可用',
      outlinesFailed: '行政区划底图加载失败',
      nearestFailed: '附近站点查询失败',
      network: '网络连接失败，请稍后重试',
      badData: '服务器返回的数据无法解析',
      locating: '正在获取您的位置…',
      searching: '正在查找最近的站点…',
      geocoding: '正在查找地址…',
      pickHint: '请在地图上点击选择位置',
      geoUnsupported: '您的浏览器不支持定位。请输入地址，或使用“在地图上点选”选择位置。',
      geoInsecure: '浏览器只允许在 HTTPS 页面上定位。请输入地址，或使用“在地图上点选”选择位置。',
      geoDenied: '无法获取您的位置：定位权限被拒绝。请在浏览器设置中允许本网站使用位置信息，' +
        '或输入地址、使用“在地图上点选”选择位置。',
      geoUnavailable: '无法确定您的位置（定位信号不可用）。请输入地址，或使用“在地图上点选”选择位置。',
      geoTimeout: '获取位置超时。请重试，或输入地址、使用“在地图上点选”选择位置。',
      searchEmpty: '请输入要查找的地址。',
      searchNotFound: '没有找到这个地址',
      searchTooMany: function (s) { return '查询太频繁，请 ' + s + ' 秒后再试。'; },
      searchFound: function (name, prec) {
        return '已定位到“' + name + '”' + (prec ? '（' + prec + '）' : '') + '。';
      },
      precisionNote: {
        exact: '精确位置', street: '定位到街道级', village: '定位到村级，位置为近似',
        township: '定位到乡镇级，位置为近似', county: '定位到县级，位置为近似',
        prefecture: '定位到地市级，位置为近似', unknown: '位置为近似'
      },
      myLocation: '您的位置',
      pickedLocation: '选定的位置',
      searchedLocation: '搜索的地点',
      travelNote: '按预计路程时间排序（直线距离 × 绕行系数 ÷ 速度），实际路程可能更远。',
      distanceNote: '按直线距离排序，实际路程可能更远。',
      found: function (n) { return '找到 ' + n + ' 个最近的站点。'; },
      none: '附近没有符合条件的站点。请更改筛选条件，或换一个地点。',
      about: '约 ',
      minutes: function (m) {
        if (m < 1) { return '不到 1 分钟'; }
        if (m < 60) { return '约 ' + Math.round(m) + ' 分钟'; }
        var h = Math.floor(m / 60), r = Math.round(m - h * 60);
        return '约 ' + h + ' 小时' + (r ? ' ' + r + ' 分钟' : '');
      },
      crowfly: '直线估算',
      modeWord: { walk: '步行', ebike: '电动车', car: '驾车' },
      sep: '，',
      showOnMap: '在地图上查看',
      selected: function (name) { return '已选择：' + name; },
      kindLabel: '类型',
      services: '服务',
      hours: '开放时间',
      phone: '电话',
      address: '地址',
      distance: '距离',
      travel: '路程',
      openNow: '现在开放',
      closedNow: '现在未开放',
      closesAt: function (t) { return t + ' 关闭'; },
      status: { closed: '已关闭', planned: '筹建中' },
      demoBadge: '演示',
      approx: '位置为近似',
      precision: {
        street: '街道级', village: '村级', township: '乡镇级', county: '县级',
        prefecture: '地市级', unknown: '未知'
      },
      details: '详情与导航',
      navigate: '高德地图导航',
      demoAttribution: '演示数据（示例站点，位置近似）',
      clusterTitle: function (n) { return n + ' 个站点，按回车放大'; },
      meters: ' 米',
      kilometers: ' 公里',
      unnamed: '（未命名站点）',
      closeMsg: '关闭提示',
      mapFailed: '地图组件加载失败，请刷新页面重试。'
    },
    en: {
      skip: 'Skip to the station finder',
      title: 'Union service stations',
      demoLabel: 'Demo data: ',
      demoText: 'illustrative stations, approximate positions',
      panelTitle: 'Find stations nearby',
      langSwitch: '中文',
      langSwitchLabel: '切换到中文',
      searchLabel: 'Find stations near an address',
      searchPlaceholder: 'Address, e.g. 柳州市鱼峰区',
      searchButton: 'Search',
      locate: 'Use my location',
      locateLabel: 'Use my location to find the nearest stations',
      pick: 'Pick on the map',
      pickLabel: 'Pick a point on the map to find the nearest stations',
      kind: 'Kind',
      allKinds: 'All kinds',
      mode: 'Travel',
      modeWalk: 'Walk',
      modeEbike: 'E-bike',
      modeCar: 'Car',
      openNowFilter: 'Open now only',
      servicesFilter: 'Filter by service',
      servicesLegend: 'Stations must offer all of these services',
      hint: 'Search an address, press “Use my location” or pick a point on the map to find the ' +
        'nearest stations by travel time. Select a station for its hours, services and phone.',
      mapLabel: 'Station map (arrow keys pan, plus/minus zoom; the station list is the text ' +
        'version of the map)',
      pickHintLong: 'Click the map to choose a point (keyboard: move the map, Enter picks its ' +
        'centre, Esc cancels)',
      wheelHint: 'Click the map to zoom with the mouse wheel',
      resultsTitleView: 'Stations in the map view',
      resultsTitleMine: 'Stations nearest to you',
      resultsTitlePicked: 'Stations nearest to the chosen point',
      resultsTitleSearch: 'Stations nearest to the address',
      listView: 'List stations in view',
      share: 'Share',
      shareLabel: 'Copy this link to share the current map:',
      shareCopied: 'Link copied; paste it to share.',
      shareManual: 'Copy the link below.',
      prevPage: 'Previous',
      nextPage: 'Next',
      page: function (a, b, n) { return a + '–' + b + ' of ' + n; },
      noscript: 'This page needs JavaScript to show the map.',
      loading: 'Loading stations…',
      countView: function (n) { return n + ' station' + (n === 1 ? '' : 's') + ' in view'; },
      emptyView: 'No matching station in the map view. Zoom out, move the map or change the ' +
        'filters.',
      loadFailed: 'Could not load the stations',
      kindsFailed: 'Could not load the station kinds; the kind filter is unavailable',
      outlinesFailed: 'Could not load the admin outlines',
      nearestFailed: 'Could not find the nearest stations',
      network: 'Network error, please try again later',
      badData: 'The server answered with unreadable data',
      locating: 'Finding your location…',
      searching: 'Finding the nearest stations…',
      geocoding: 'Looking up the address…',
      pickHint: 'Click the map to choose a point',
      geoUnsupported: 'Your browser cannot locate you. Search an address or pick a point on the map.',
      geoInsecure: 'Browsers only locate on HTTPS pages. Search an address or pick a point on the map.',
      geoDenied: 'Could not get your location: permission denied. Allow location for this site in ' +
        'the browser settings, or search an address or pick a point on the map.',
      geoUnavailable: 'Your position is unavailable. Search an address or pick a point on the map.',
      geoTimeout: 'Locating timed out. Try again, search an address or pick a point on the map.',
      searchEmpty: 'Type an address to search.',
      searchNotFound: 'Address not found',
      searchTooMany: function (s) { return 'Too many searches; try again in ' + s + ' s.'; },
      searchFound: function (name, prec) {
        return 'Found “' + name + '”' + (prec ? ' (' + prec + ')' : '') + '.';
      },
      precisionNote: {
        exact: 'exact position', street: 'street level', village: 'village level, approximate',
        township: 'township level, approximate', county: 'county level, approximate',
        prefecture: 'prefecture level, approximate', unknown: 'approximate'
      },
      myLocation: 'Your location',
      pickedLocation: 'Chosen point',
      searchedLocation: 'Searched place',
      travelNote: 'Ordered by estimated travel time (straight line × detour factor ÷ speed); ' +
        'the real trip may be longer.',
      distanceNote: 'Ordered by straight-line distance; the real trip may be longer.',
      found: function (n) { return n + ' nearest station' + (n === 1 ? '' : 's') + ' found.'; },
      none: 'No matching station nearby. Change the filters or choose another place.',
      about: 'about ',
      minutes: function (m) {
        if (m < 1) { return 'under 1 min'; }
        if (m < 60) { return 'about ' + Math.round(m) + ' min'; }
        var h = Math.floor(m / 60), r = Math.round(m - h * 60);
        return 'about ' + h + ' h' + (r ? ' ' + r + ' min' : '');
      },
      crowfly: 'straight-line estimate',
      modeWord: { walk: 'walking', ebike: 'e-bike', car: 'car' },
      sep: ', ',
      showOnMap: 'show on the map',
      selected: function (name) { return 'Selected: ' + name; },
      kindLabel: 'Kind',
      services: 'Services',
      hours: 'Hours',
      phone: 'Phone',
      address: 'Address',
      distance: 'Distance',
      travel: 'Travel',
      openNow: 'Open now',
      closedNow: 'Closed now',
      closesAt: function (t) { return 'closes ' + t; },
      status: { closed: 'Closed', planned: 'Planned' },
      demoBadge: 'Demo',
      approx: 'approximate position',
      precision: {
        street: 'street', village: 'village', township: 'township', county: 'county',
        prefecture: 'prefecture', unknown: 'unknown'
      },
      details: 'Details and navigation',
      navigate: 'Navigate with Amap',
      demoAttribution: 'Demo data (illustrative stations, approximate positions)',
      clusterTitle: function (n) { return n + ' stations, press Enter to zoom in'; },
      meters: ' m',
      kilometers: ' km',
      unnamed: '(unnamed station)',
      closeMsg: 'Close message',
      mapFailed: 'The map could not load; please reload the page.'
    }
  };

  var LANG = 'zh';
  function T(key) {
    var v = I18N[LANG][key];
    if (v === undefined) { v = I18N.zh[key]; }
    if (typeof v === 'function') {
      return v.apply(null, Array.prototype.slice.call(arguments, 1));
    }
    return v;
  }

  var LIST_PAGE = 20;
  var NEAREST_K = 20;
  var DEBOUNCE_MS = 250;
  var CACHE_MAX = 48;

  // ---------------------------------------------------------------- helpers

  function readConfig(id) {
    var node = document.getElementById(id || 'yz-config');
    try {
      return JSON.parse(node ? node.textContent : '{}') || {};
    } catch (e) {
      return {};
    }
  }

  /** Format a distance in metres: "850 米", "3.2 公里", "125 公里" (or m / km in English). */
  function formatDistance(m) {
    if (typeof m !== 'number' || !isFinite(m)) { return ''; }
    var rounded = Math.round(m);
    if (rounded < 1000) { return rounded + T('meters'); }
    var km = m / 1000;
    return (km < 100 ? km.toFixed(1) : String(Math.round(km))) + T('kilometers');
  }

  function formatMinutes(m) {
    if (typeof m !== 'number' || !isFinite(m)) { return ''; }
    return T('minutes', m);
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
      if (Array.isArray(v)) { v = v.join(','); }
      if (v === false) { return; }
      if (v === true) { v = '1'; }
      if (!isBlank(v)) { qs.push(encodeURIComponent(k) + '=' + encodeURIComponent(v)); }
    });
    return base.replace(/\/+$/, '') + path + (qs.length ? '?' + qs.join('&') : '');
  }

  /** fetch JSON; reject with an Error whose message is user-readable (API error.message). */
  function getJSON(url, signal) {
    var opts = { headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (signal) { opts.signal = signal; }
    return fetch(url, opts)
      .catch(function (e) {
        if (e && e.name === 'AbortError') { throw e; }
        throw new Error(T('network'));
      })
      .then(function (resp) {
        return resp.text().then(function (body) {
          var data = null;
          try { data = body ? JSON.parse(body) : null; } catch (e) { data = null; }
          if (!resp.ok) {
            var msg = data && data.error && data.error.message;
            var err = new Error(msg ? String(msg) : 'HTTP ' + resp.status);
            err.status = resp.status;
            err.retryAfter = resp.headers.get('Retry-After');
            err.parameter = data && data.error && data.error.parameter;
            throw err;
          }
          if (data === null) { throw new Error(T('badData')); }
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
    // Amap URI API; coordinate=wgs84 because the API serves WGS-84 (geo/navigation.py).
    return 'https://uri.amap.com/marker?position=' + Number(lon).toFixed(6) + ',' +
      Number(lat).toFixed(6) + '&name=' + encodeURIComponent(name || '') +
      '&src=webapp.yizhan.locator&coordinate=wgs84&callnative=1';
  }

  function dispatch(name, detail) {
    var ev;
    try {
      ev = new CustomEvent(name, { detail: detail });
    } catch (e) {
      ev = document.createEvent('CustomEvent');
      ev.initCustomEvent(name, false, false, detail);
    }
    document.dispatchEvent(ev);
  }

  function kindLabel(p, kinds) {
    var k = kinds && kinds[p.kind];
    if (k) { return LANG === 'en' ? (k.en || k.zh) : (k.zh || k.en); }
    return LANG === 'en' ? (p.kind_label_en || p.kind_label || p.kind || '') :
      (p.kind_label || p.kind || '');
  }

  function serviceLabels(p, services) {
    var codes = Array.isArray(p.services) ? p.services : [];
    return codes.map(function (c, i) {
      var s = services && services[c];
      if (s) { return LANG === 'en' ? (s.en || s.zh) : (s.zh || s.en); }
      return (Array.isArray(p.service_labels) && p.service_labels[i]) || c;
    });
  }

  // ---------------------------------------------------------------- popup

  function buildPopup(feature, app) {
    var p = feature.properties || {};
    var c = feature.geometry && feature.geometry.coordinates;
    var root = el('div', 'yz-popup');
    root.setAttribute('data-station-id', String(p.id));

    root.appendChild(el('h3', 'yz-popup-name', isBlank(p.name) ? T('unnamed') : p.name));
    if (!isBlank(p.name_en)) {
      var en = el('p', 'yz-popup-name-en', p.name_en);
      en.setAttribute('lang', 'en');
      root.appendChild(en);
    }

    var tags = el('p', 'yz-popup-tags');
    tags.appendChild(el('span', 'yz-tag yz-tag--kind', kindLabel(p, app.kinds)));
    if (p.status && p.status !== 'open' && T('status')[p.status]) {
      tags.appendChild(el('span', 'yz-tag yz-tag--status', T('status')[p.status]));
    }
    if (p.demo) { tags.appendChild(el('span', 'yz-tag yz-tag--demo', T('demoBadge'))); }
    root.appendChild(tags);

    var dl = el('dl', 'yz-popup-facts');
    function fact(label, valueNode) {
      dl.appendChild(el('dt', null, label));
      var dd = el('dd');
      dd.appendChild(valueNode);
      dl.appendChild(dd);
    }
    if (typeof p.minutes === 'number') {
      fact(T('travel'), document.createTextNode(app.travelText(p.minutes)));
    }
    if (typeof p.distance_m === 'number') {
      fact(T('distance'), document.createTextNode(formatDistance(p.distance_m)));
    }
    var labels = serviceLabels(p, app.services);
    if (labels.length) {
      var ul = el('ul', 'yz-services');
      labels.forEach(function (s) { ul.appendChild(el('li', 'yz-service', s)); });
      fact(T('services'), ul);
    }
    if (!isBlank(p.hours) || p.open_now === true || p.open_now === false) {
      var hours = el('span');
      if (!isBlank(p.hours)) { hours.appendChild(el('span', 'yz-hours', p.hours)); }
      if (p.open_now === true || p.open_now === false) {
        var txt = p.open_now ? T('openNow') : T('closedNow');
        if (p.open_now && !isBlank(p.closes_at)) { txt += ' · ' + T('closesAt', p.closes_at); }
        hours.appendChild(el('span', 'yz-open yz-open--' + (p.open_now ? 'yes' : 'no'), txt));
      }
      fact(T('hours'), hours);
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
      fact(T('phone'), phone);
    }
    var addr = stationAddress(p);
    if (addr) {
      var a = el('span', null, addr);
      if (p.demo || (p.precision && p.precision !== 'exact')) {
        var prec = T('precision')[p.precision];
        a.appendChild(el('span', 'yz-approx',
          (LANG === 'en' ? ' (' : '（') + T('approx') + (prec ? T('sep') + prec : '') +
          (LANG === 'en' ? ')' : '）')));
      }
      fact(T('address'), a);
    }
    root.appendChild(dl);

    var links = el('p', 'yz-popup-links');
    var more = el('a', 'yz-nav yz-details', T('details'));
    more.setAttribute('href', app.stationHref(p.id));
    if (app.cfg.embed) { more.setAttribute('target', '_blank'); more.setAttribute('rel', 'noopener'); }
    links.appendChild(more);
    if (Array.isArray(c) && c.length >= 2) {
      var nav = el('a', 'yz-nav yz-amap', T('navigate'));
      nav.setAttribute('href', amapHref(c[0], c[1], p.name));
      nav.setAttribute('target', '_blank');
      nav.setAttribute('rel', 'noopener noreferrer');
      links.appendChild(nav);
    }
    root.appendChild(links);
    return root;
  }

  // ---------------------------------------------------------------- app

  function Locator(cfg) {
    this.cfg = cfg;
    this.apiBase = cfg.apiBase || '/api';
    this.controls = Array.isArray(cfg.controls) ? cfg.controls :
      ['search', 'locate', 'filters', 'list', 'lang', 'basemaps'];
    this.kinds = {};               // code -> {zh, en}
    this.kindOrder = [];
    this.services = {};            // code -> {zh, en}
    this.serviceOrder = [];
    this.filter = {
      kinds: Array.isArray(cfg.kinds) ? cfg.kinds.slice() : [],
      services: Array.isArray(cfg.services) ? cfg.services.slice() : [],
      openNow: !!cfg.openNow
    };
    this.mode = cfg.mode || 'walk';
    this.point = null;             // {lat, lon, source: 'geo'|'pick'|'search', label}
    this.picking = false;
    this.selectedId = cfg.station ? String(cfg.station) : null;
    this.byId = {};                // id -> marker (stations drawn on the map)
    this.features = {};            // id -> last feature seen (map, list, nearest)
    this.cache = {};               // view key -> response
    this.cacheKeys = [];
    this.viewSeq = 0;
    this.listSeq = 0;
    this.listMode = 'view';        // 'view' | 'nearest'
    this.listOffset = 0;
    this.nearest = null;           // last nearest answer (for re-render)
    this.basemapId = cfg.basemap || null;
    this.crs = 'wgs84';
    this.viewTotal = null;
    this.ready = false;

    var $ = function (id) { return document.getElementById(id); };
    this.$ = {
      root: $('yz-locator'),
      lang: $('yz-lang'),
      search: $('yz-search'),
      q: $('yz-q'),
      locate: $('yz-locate'),
      pick: $('yz-pick'),
      kind: $('yz-kind'),
      mode: $('yz-mode'),
      openNow: $('yz-open-now'),
      servicesBox: $('yz-services'),
      count: $('yz-count'),
      statusText: $('yz-status-text'),
      announce: $('yz-announce'),
      error: $('yz-error'),
      resultsBox: $('yz-results-box'),
      resultsTitle: $('yz-results-title'),
      resultsNote: $('yz-results-note'),
      results: $('yz-results'),
      listView: $('yz-list-view'),
      pager: $('yz-pager'),
      prev: $('yz-prev'),
      next: $('yz-next'),
      pageText: $('yz-page-text'),
      share: $('yz-share'),
      shareBox: $('yz-share-box'),
      shareUrl: $('yz-share-url'),
      pickHint: $('yz-pick-hint'),
      wheelHint: $('yz-wheel-hint'),
      hint: $('yz-hint'),
      mapEl: $('yz-map')
    };
    this.hasList = this.controls.indexOf('list') >= 0 && this.$.results &&
      !(this.$.resultsBox && this.$.resultsBox.getAttribute('data-disabled') === 'true');
  }

  // ---- coordinates: the map draws in GCJ-02 when the Amap layer is active

  /** A WGS-84 position as a Leaflet LatLng in the active basemap's system. */
  Locator.prototype.disp = function (lat, lon) {
    if (this.crs === 'gcj02') {
      var g = CRS.wgs84ToGcj02(lon, lat);
      return L.latLng(g[1], g[0]);
    }
    return L.latLng(lat, lon);
  };

  /** A Leaflet LatLng of the map (active system) as WGS-84 {lat, lon}. */
  Locator.prototype.wgs = function (latlng) {
    if (this.crs === 'gcj02') {
      var w = CRS.gcj02ToWgs84(latlng.lng, latlng.lat);
      return { lat: w[1], lon: w[0] };
    }
    return { lat: latlng.lat, lon: latlng.lng };
  };

  Locator.prototype.stationHref = function (id) {
    var base = this.cfg.stationUrl || '/stations/__ID__';
    return base.replace('__ID__', encodeURIComponent(String(id)));
  };

  Locator.prototype.travelText = function (minutes) {
    var label = (this.nearest && this.nearest.travel) || null;
    var modeWord = T('modeWord')[this.mode] || '';
    var model = label ? (LANG === 'en' ? label.label_en : label.label_zh) : '';
    if (!model) { model = modeWord + T('sep') + T('crowfly'); }   // the API names the model
    return formatMinutes(minutes) + ' · ' + model;
  };

  Locator.prototype.init = function () {
    var self = this;
    var cfg = this.cfg;
    LANG = cfg.lang === 'en' ? 'en' : 'zh';
    var center = Array.isArray(cfg.center) && cfg.center.length >= 2 ? cfg.center : [108.3, 23.5];
    var map = this.map = L.map(this.$.mapEl, {
      center: [center[1], center[0]],
      zoom: typeof cfg.zoom === 'number' ? cfg.zoom : 6,
      minZoom: 3,
      maxZoom: 18,
      zoomControl: true,
      keyboard: true,
      worldCopyJump: false,
      scrollWheelZoom: cfg.scrollWheelZoom !== false
    });
    map.attributionControl.setPrefix(false);
    if (cfg.demo) { map.attributionControl.addAttribution(T('demoAttribution')); }
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

    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(function () { map.invalidateSize({ pan: false }); })
        .observe(this.$.mapEl);
    }
    this.moving = false;
    map.on('movestart zoomstart', function () { self.moving = true; });
    map.on('moveend', function () { self.moving = false; self.onMoveEnd(); });
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

    this.bindControls();
    this.applyLang();
    this.loadOutlines();
    this.loadTaxonomy();
    this.loadView();
    if (this.hasList) { this.loadList(0); }
    if (this.selectedId) { this.restoreSelection(this.selectedId); }
    this.ready = true;
    dispatch('yizhan:ready', { lang: LANG, embed: !!cfg.embed });
  };

  Locator.prototype.hideWheelHint = function () {
    if (this.$.wheelHint) { this.$.wheelHint.hidden = true; }
  };

  Locator.prototype.initialView = function () {
    var cfg = this.cfg;
    var map = this.map;
    var v = cfg.view;
    if (v && isFinite(v.lat) && isFinite(v.lon)) {
      map.setView(this.disp(v.lat, v.lon), isFinite(v.zoom) ? v.zoom : 13, { animate: false });
      return;
    }
    var b = (Array.isArray(cfg.regionBounds) && cfg.regionBounds.length === 4) ?
      cfg.regionBounds : (Array.isArray(cfg.bounds) && cfg.bounds.length === 4 ? cfg.bounds : null);
    if (b) {
      map.fitBounds([this.disp(b[1], b[0]), this.disp(b[3], b[2])],
        { padding: [24, 24], maxZoom: 12, animate: false });
    }
  };

  // ---- basemaps

  Locator.prototype.setupBasemaps = function () {
    var self = this;
    var defs = Array.isArray(this.cfg.basemaps) && this.cfg.basemaps.length ?
      this.cfg.basemaps : [{ id: 'offline', name_zh: '离线底图', name_en: 'Offline', crs: 'wgs84', url: '' }];
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
        layer.getAttribution = function () { return d.attribution || ''; };
      }
      layer.yzId = d.id;
      self.basemapDefs[d.id] = d;
      self.basemapLayers[d.id] = layer;
      control[LANG === 'en' ? (d.name_en || d.id) : (d.name_zh || d.id)] = layer;
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

  Locator.prototype.updateMapClass = function () {
    var d = this.basemapDefs[this.basemapId] || {};
    this.$.mapEl.classList.toggle('yz-map--no-tiles', !d.url);
    this.$.mapEl.classList.toggle('yz-map--tiles', !!d.url);
    this.$.mapEl.setAttribute('data-basemap', this.basemapId);
    this.$.mapEl.setAttribute('data-crs', this.crs);
  };

  /** Switch basemap: redraw every overlay in the new layer's coordinate system. */
  Locator.prototype.setBasemap = function (id) {
    if (!this.basemapLayers[id] || id === this.basemapId) { return; }
    this.map.removeLayer(this.basemapLayers[this.basemapId]);
    this.basemapLayers[id].addTo(this.map);   // fires baselayerchange only via the control
    this.onBasemapChange(id);
  };

  Locator.prototype.onBasemapChange = function (id) {
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
      this.map.closePopup();
      this.renderView(this.lastView, true);
    } else if (prevId !== id) {
      this.drawOutlines();
    }
    this.updateUrl();
  };

  // ---- controls

  Locator.prototype.bindControls = function () {
    var self = this;
    var $ = this.$;
    if ($.lang) {
      $.lang.addEventListener('click', function () { self.setLang(LANG === 'zh' ? 'en' : 'zh'); });
    }
    if ($.search) {
      $.search.addEventListener('submit', function (e) { e.preventDefault(); self.geocode(); });
    }
    if ($.locate) { $.locate.addEventListener('click', function () { self.locate(); }); }
    if ($.pick) { $.pick.addEventListener('click', function () { self.setPicking(!self.picking); }); }
    if ($.kind) {
      if (this.filter.kinds.length === 1) { $.kind.setAttribute('data-initial', this.filter.kinds[0]); }
      $.kind.addEventListener('change', function () {
        self.filter.kinds = $.kind.value ? [$.kind.value] : [];
        self.filtersChanged();
      });
    }
    if ($.mode) {
      $.mode.value = this.mode;
      $.mode.addEventListener('change', function () {
        self.mode = $.mode.value || 'walk';
        self.updateUrl();
        if (self.point) { self.searchNearest(self.point); }
      });
    }
    if ($.openNow) {
      $.openNow.checked = this.filter.openNow;
      $.openNow.addEventListener('change', function () {
        self.filter.openNow = $.openNow.checked;
        self.filtersChanged();
      });
    }
    if ($.listView) {
      $.listView.addEventListener('click', function () {
        self.listMode = 'view';
        self.loadList(0);
      });
    }
    if ($.prev) { $.prev.addEventListener('click', function () { self.loadList(self.listOffset - LIST_PAGE); }); }
    if ($.next) { $.next.addEventListener('click', function () { self.loadList(self.listOffset + LIST_PAGE); }); }
    if ($.share) { $.share.addEventListener('click', function () { self.share(); }); }
  };

  Locator.prototype.filtersChanged = function () {
    this.map.closePopup();
    this.updateUrl();
    this.loadView();
    if (this.listMode === 'nearest' && this.point) {
      this.searchNearest(this.point);
    } else if (this.hasList) {
      this.loadList(0);
    }
  };

  Locator.prototype.setLang = function (lang) {
    LANG = lang === 'en' ? 'en' : 'zh';
    this.applyLang();
    this.renderTaxonomy();
    this.rerenderList();
    if (this.lastView) { this.renderCount(this.viewTotal); }
    this.map.closePopup();
    this.updateUrl();
  };

  /** Put the current language's strings into every [data-i18n*] element. */
  Locator.prototype.applyLang = function () {
    document.documentElement.setAttribute('lang', LANG === 'en' ? 'en' : 'zh-CN');
    var nodes = document.querySelectorAll('[data-i18n]');
    for (var i = 0; i < nodes.length; i++) {
      var v = T(nodes[i].getAttribute('data-i18n'));
      if (typeof v === 'string') { nodes[i].textContent = v; }
    }
    nodes = document.querySelectorAll('[data-i18n-label]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('aria-label', T(nodes[i].getAttribute('data-i18n-label')));
    }
    nodes = document.querySelectorAll('[data-i18n-placeholder]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('placeholder', T(nodes[i].getAttribute('data-i18n-placeholder')));
    }
    if (this.$.lang) { this.$.lang.setAttribute('lang', LANG === 'en' ? 'zh-CN' : 'en'); }
  };

  // ---- messages

  Locator.prototype.status = function (text) {
    if (this.$.statusText) { this.$.statusText.textContent = text ? ' · ' + text : ''; }
  };

  Locator.prototype.announce = function (text) {
    if (this.$.announce) { this.$.announce.textContent = text || ''; }
  };

  Locator.prototype.showError = function (text) {
    var box = this.$.error;
    if (!box) { return; }
    box.textContent = '';
    if (!text) { box.hidden = true; return; }
    box.appendChild(el('span', 'yz-error-text', text));
    var close = el('button', 'yz-error-close', '×');
    close.type = 'button';
    close.setAttribute('aria-label', T('closeMsg'));
    close.addEventListener('click', function () { box.hidden = true; box.textContent = ''; });
    box.appendChild(close);
    box.hidden = false;
  };

  // ---- outlines (the offline basemap) with province / prefecture labels

  Locator.prototype.loadOutlines = function () {
    var self = this;
    if (!this.cfg.outlinesUrl) { return; }
    getJSON(this.cfg.outlinesUrl).then(function (fc) {
      self.outlineData = fc;
      self.drawOutlines();
    }).catch(function (err) {
      var d = self.basemapDefs[self.basemapId] || {};
      if (!d.url) { self.showError(T('outlinesFailed') + '：' + err.message); }
    });
  };

  Locator.prototype.drawOutlines = function () {
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
          if (node) { node.textContent = name; node.setAttribute('aria-hidden', 'true'); }
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

  Locator.prototype.updateLabelLevel = function () {
    var z = this.map.getZoom();
    this.$.mapEl.classList.toggle('yz-labels--province', z < 7);
    this.$.mapEl.classList.toggle('yz-labels--prefecture', z >= 7 && z < 11);
    this.$.mapEl.classList.toggle('yz-labels--none', z >= 11);
  };

  // ---- taxonomy

  Locator.prototype.loadTaxonomy = function () {
    var self = this;
    var wantKinds = this.$.kind;
    var wantServices = this.$.servicesBox;
    getJSON(apiUrl(this.apiBase, '/kinds')).then(function (kinds) {
      if (!Array.isArray(kinds)) { throw new Error(T('badData')); }
      kinds.forEach(function (k) {
        if (!k || isBlank(k.code)) { return; }
        self.kinds[k.code] = { zh: k.zh || k.code, en: k.en || k.zh || k.code };
        self.kindOrder.push(k.code);
      });
      if (wantKinds) { self.renderKinds(); }
      self.rerenderList();
    }).catch(function (err) {
      if (wantKinds) {
        wantKinds.disabled = true;
        self.showError(T('kindsFailed') + '：' + err.message);
      }
    });
    getJSON(apiUrl(this.apiBase, '/services')).then(function (services) {
      if (!Array.isArray(services)) { return; }
      services.forEach(function (s) {
        if (!s || isBlank(s.code)) { return; }
        self.services[s.code] = { zh: s.zh || s.code, en: s.en || s.zh || s.code };
        self.serviceOrder.push(s.code);
      });
      if (wantServices) { self.renderServices(); }
    }).catch(function () { /* the service filter stays empty */ });
  };

  Locator.prototype.renderTaxonomy = function () {
    if (this.$.kind) { this.renderKinds(); }
    if (this.$.servicesBox) { this.renderServices(); }
  };

  Locator.prototype.renderKinds = function () {
    var self = this;
    var sel = this.$.kind;
    sel.textContent = '';
    var all = el('option', null, T('allKinds'));
    all.value = '';
    sel.appendChild(all);
    this.kindOrder.forEach(function (code) {
      var opt = el('option', null, LANG === 'en' ? self.kinds[code].en : self.kinds[code].zh);
      opt.value = code;
      sel.appendChild(opt);
    });
    sel.value = this.filter.kinds.length === 1 ? this.filter.kinds[0] : '';
  };

  Locator.prototype.renderServices = function () {
    var self = this;
    var box = this.$.servicesBox;
    box.textContent = '';
    this.serviceOrder.forEach(function (code) {
      var label = el('label', 'yz-check');
      var input = document.createElement('input');
      input.type = 'checkbox';
      input.value = code;
      input.name = 'service';
      input.checked = self.filter.services.indexOf(code) >= 0;
      input.addEventListener('change', function () {
        var i = self.filter.services.indexOf(code);
        if (input.checked && i < 0) { self.filter.services.push(code); }
        if (!input.checked && i >= 0) { self.filter.services.splice(i, 1); }
        self.filtersChanged();
      });
      label.appendChild(input);
      label.appendChild(el('span', null, LANG === 'en' ? self.services[code].en : self.services[code].zh));
      box.appendChild(label);
    });
  };

  Locator.prototype.filterParams = function () {
    return {
      kind: this.filter.kinds,
      service: this.filter.services,
      open_now: this.filter.openNow
    };
  };

  // ---- the stations in view: /api/clusters

  Locator.prototype.onMoveEnd = function () {
    var self = this;
    window.clearTimeout(this.moveTimer);
    this.moveTimer = window.setTimeout(function () {
      self.loadView();
      if (self.hasList && self.listMode === 'view') { self.loadList(0); }
      self.updateUrl();
    }, DEBOUNCE_MS);
  };

  /** The view as a WGS-84 bbox, widened to whole "tiles" of the current zoom (cache key). */
  Locator.prototype.viewQuery = function () {
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
      return { params: params, url: apiUrl(this.apiBase, '/stations', params) };
    }
    params.zoom = zoom;
    return { params: params, url: apiUrl(this.apiBase, '/clusters', params) };
  };

  Locator.prototype.loadView = function () {
    var self = this;
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
    this.status(T('loading'));
    getJSON(q.url, ctrl && ctrl.signal).then(function (fc) {
      if (seq !== self.viewSeq) { return; }
      self.remember(q.url, fc);
      self.status('');
      self.showError('');
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
      self.showError(T('loadFailed') + '：' + err.message);
    }).then(function () {
      if (seq === self.viewSeq) { self.$.mapEl.removeAttribute('aria-busy'); }
    });
  };

  Locator.prototype.remember = function (key, value) {
    if (!(key in this.cache)) { this.cacheKeys.push(key); }
    this.cache[key] = value;
    while (this.cacheKeys.length > CACHE_MAX) { delete this.cache[this.cacheKeys.shift()]; }
  };

  Locator.prototype.renderCount = function (total) {
    if (!this.$.count) { return; }
    if (typeof total !== 'number') { this.$.count.textContent = ''; return; }
    this.$.count.setAttribute('data-count', String(total));
    this.$.count.textContent = T('countView', total);
  };

  /** Draw one /api/clusters answer: bubbles for server clusters, markers for stations. */
  Locator.prototype.renderView = function (fc, force) {
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
      keep[id] = true;
      self.features[id] = f;
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
    this.viewTotal = total;
    this.renderCount(total);
    if (total === 0 && this.listMode === 'view') { this.status(T('emptyView')); }
    this.markSelectedMarker();
    dispatch('yizhan:results', { count: total });
  };

  Locator.prototype.makeBubble = function (f) {
    var self = this;
    var p = f.properties;
    var c = f.geometry.coordinates;
    var n = Number(p.count) || 0;
    var size = n < 100 ? 34 : (n < 1000 ? 40 : (n < 10000 ? 46 : 52));
    var cls = 'yz-bubble marker-cluster ' + (n < 100 ? 'marker-cluster-small' :
      (n < 1000 ? 'marker-cluster-medium' : 'marker-cluster-large'));
    var icon = L.divIcon({ className: cls, iconSize: [size, size], html: '' });
    var m = L.marker(this.disp(c[1], c[0]), {
      icon: icon, keyboard: true, title: T('clusterTitle', n), riseOnHover: true
    });
    m.on('add', function () {
      var node = m.getElement();
      if (!node) { return; }
      node.textContent = '';
      var inner = el('div');
      inner.appendChild(el('span', null, String(n)));
      node.appendChild(inner);
      node.setAttribute('role', 'button');
      node.setAttribute('aria-label', T('clusterTitle', n));
      node.setAttribute('data-count', String(n));
    });
    m.on('keydown', function (e) {
      var k = e.originalEvent && e.originalEvent.key;
      if (k === 'Enter' || k === ' ') { L.DomEvent.preventDefault(e.originalEvent); m.fire('click'); }
    });
    m.on('click', function () {
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

  Locator.prototype.makeMarker = function (f) {
    var p = f.properties;
    var c = f.geometry.coordinates;
    var cls = 'yz-marker yz-marker--' + String(p.kind || 'other').replace(/[^a-z0-9_-]/gi, '');
    if (p.status && p.status !== 'open') { cls += ' yz-marker--inactive'; }
    var name = isBlank(p.name) ? T('unnamed') : String(p.name);
    var marker = L.marker(this.disp(c[1], c[0]), {
      icon: L.divIcon({ className: cls, iconSize: [22, 22], iconAnchor: [11, 11],
        popupAnchor: [0, -10] }),
      title: name + (p.kind_label ? '（' + kindLabel(p, this.kinds) + '）' : ''),
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
        node.setAttribute('role', 'button');
        node.setAttribute('aria-label', name);
        node.classList.toggle('yz-marker--selected', marker.stationId === self.selectedId);
      }
    });
    return marker;
  };

  Locator.prototype.markSelectedMarker = function () {
    var self = this;
    Object.keys(this.byId).forEach(function (id) {
      var node = self.byId[id].getElement && self.byId[id].getElement();
      if (node) { node.classList.toggle('yz-marker--selected', id === self.selectedId); }
    });
  };

  // ---- selection: map <-> list

  /** Select a station (from the map, the list or a share link): popup, highlight, events. */
  Locator.prototype.select = function (id, source) {
    var self = this;
    id = String(id);
    var f = this.features[id];
    if (!f) { return; }
    var p = f.properties || {};
    var c = f.geometry.coordinates;
    this.selectedId = id;
    var marker = this.byId[id];
    if (!marker) {      // not drawn (e.g. a cluster at this zoom): draw it, pinned
      marker = this.makeMarker(f);
      this.byId[id] = marker;
      this.cluster.addLayer(marker);
    }
    this.pinnedId = id;
    marker.feature = f;
    this.markSelectedMarker();
    this.markCurrent(id, source !== 'list');
    var name = isBlank(p.name) ? T('unnamed') : String(p.name);
    this.announce(T('selected', name));
    this.updateUrl();
    dispatch('yizhan:select', {
      id: id, name: name, kind: p.kind, lon: c[0], lat: c[1],
      url: new URL(this.stationHref(id), window.location.href).href
    });
    var done = false;
    function open() {
      if (done) { return; }
      done = true;
      self.map.closePopup();
      L.popup(L.extend(self.popupOptions(), { offset: [0, -3] }))
        .setLatLng(marker.getLatLng())
        .setContent(buildPopup(f, self))
        .openOn(self.map);
      self.markCurrent(id, false);
      self.markSelectedMarker();
    }
    if (source === 'map') { open(); return; }
    function show() {
      self.cluster.zoomToShowLayer(marker, open);
      window.setTimeout(open, 1500);   // zoomToShowLayer can miss its callback
    }
    if (this.moving) { this.map.once('moveend', show); } else { show(); }
  };

  Locator.prototype.restoreSelection = function (id) {
    var self = this;
    getJSON(apiUrl(this.apiBase, '/stations/' + encodeURIComponent(id))).then(function (f) {
      if (!f || !f.geometry) { return; }
      self.features[String(f.properties.id)] = f;
      self.select(String(f.properties.id), 'link');
    }).catch(function () { self.selectedId = null; self.updateUrl(); });
  };

  /** Highlight the list entry of ``id`` (and scroll it into view when selected on the map). */
  Locator.prototype.markCurrent = function (id, scroll) {
    if (!this.$.results) { return; }
    if (id === null) { id = undefined; }
    var items = this.$.results.querySelectorAll('li[data-station-id]');
    for (var i = 0; i < items.length; i++) {
      var on = id !== undefined && items[i].getAttribute('data-station-id') === id;
      items[i].classList.toggle('yz-result--current', on);
      var b = items[i].querySelector('button');
      if (on) {
        b.setAttribute('aria-current', 'true');
        if (scroll && items[i].scrollIntoView) { items[i].scrollIntoView({ block: 'nearest' }); }
      } else {
        b.removeAttribute('aria-current');
      }
    }
  };

  /** Popup options that keep it inside the (possibly small, phone) map. */
  Locator.prototype.popupOptions = function () {
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

  // ---- the list: stations in view (paged) or nearest by travel time

  Locator.prototype.loadList = function (offset) {
    var self = this;
    if (!this.hasList) { return; }
    this.listMode = 'view';
    offset = Math.max(0, offset || 0);
    var b = this.map.getBounds();
    var sw = this.wgs(b.getSouthWest());
    var ne = this.wgs(b.getNorthEast());
    var params = this.filterParams();
    params.bbox = [Math.max(-180, sw.lon), Math.max(-90, sw.lat), Math.min(180, ne.lon),
      Math.min(90, ne.lat)].map(function (v) { return +v.toFixed(6); }).join(',');
    params.limit = LIST_PAGE;
    params.offset = offset;
    var seq = ++this.listSeq;
    if (this.listAbort) { this.listAbort.abort(); }
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    this.listAbort = ctrl;
    getJSON(apiUrl(this.apiBase, '/stations', params), ctrl && ctrl.signal).then(function (fc) {
      if (seq !== self.listSeq || self.listMode !== 'view') { return; }
      var feats = Array.isArray(fc.features) ? fc.features : [];
      self.listOffset = offset;
      self.listData = { feats: feats, total: fc.numberMatched, offset: offset };
      self.renderList();
    }).catch(function (err) {
      if (err && err.name === 'AbortError') { return; }
      if (seq === self.listSeq) { self.showError(T('loadFailed') + '：' + err.message); }
    });
  };

  Locator.prototype.rerenderList = function () {
    if (!this.hasList) { return; }
    if (this.listMode === 'nearest' && this.nearest) {
      this.renderNearest(this.nearest.feats, this.nearest.point);
    } else if (this.listData) {
      this.renderList();
    }
  };

  Locator.prototype.renderList = function () {
    var d = this.listData;
    var self = this;
    this.$.resultsTitle.textContent = T('resultsTitleView');
    if (this.$.listView) { this.$.listView.hidden = true; }
    this.$.results.textContent = '';
    var total = typeof d.total === 'number' ? d.total : d.feats.length;
    this.$.resultsNote.textContent = total ? '' : T('emptyView');
    this.$.resultsBox.hidden = false;
    d.feats.forEach(function (f, i) {
      if (!f || !f.properties || !f.geometry) { return; }
      self.features[String(f.properties.id)] = f;
      self.$.results.appendChild(self.resultItem(f, d.offset + i + 1, null));
    });
    if (this.$.pager) {
      this.$.pager.hidden = total <= LIST_PAGE;
      this.$.prev.disabled = d.offset <= 0;
      this.$.next.disabled = d.offset + LIST_PAGE >= total;
      this.$.pageText.textContent = total ?
        T('page', d.offset + 1, Math.min(total, d.offset + d.feats.length), total) : '';
    }
    this.markCurrent(this.selectedId, false);
  };

  /** One list entry: a button that selects the station (map and list stay in sync). */
  Locator.prototype.resultItem = function (f, rank, extra) {
    var self = this;
    var p = f.properties || {};
    var id = String(p.id);
    var li = el('li', 'yz-result');
    li.setAttribute('data-station-id', id);
    if (typeof p.distance_m === 'number') { li.setAttribute('data-distance-m', String(p.distance_m)); }
    if (typeof p.minutes === 'number') { li.setAttribute('data-minutes', String(p.minutes)); }
    var btn = el('button', 'yz-result-btn');
    btn.type = 'button';
    var name = isBlank(p.name) ? T('unnamed') : String(p.name);
    btn.appendChild(el('span', 'yz-result-rank', String(rank)));
    var body = el('span', 'yz-result-body');
    body.appendChild(el('span', 'yz-result-name', name));
    var meta = el('span', 'yz-result-meta');
    meta.appendChild(el('span', 'yz-result-kind', kindLabel(p, this.kinds)));
    if (p.open_now === true || p.open_now === false) {
      meta.appendChild(el('span', 'yz-open yz-open--' + (p.open_now ? 'yes' : 'no'),
        p.open_now ? T('openNow') : T('closedNow')));
    }
    body.appendChild(meta);
    if (extra) { body.appendChild(el('span', 'yz-result-travel', extra)); }
    btn.appendChild(body);
    var dist = typeof p.distance_m === 'number' ? formatDistance(p.distance_m) : '';
    if (dist) { btn.appendChild(el('span', 'yz-result-distance', dist)); }
    btn.setAttribute('aria-label', name + T('sep') + kindLabel(p, this.kinds) +
      (extra ? T('sep') + extra : '') + (dist ? T('sep') + T('distance') + ' ' + dist : '') +
      T('sep') + T('showOnMap'));
    btn.addEventListener('click', function () { self.select(id, 'list'); });
    li.appendChild(btn);
    return li;
  };

  // ---- choosing a point

  Locator.prototype.setPicking = function (on) {
    this.picking = !!on;
    if (this.$.pick) {
      this.$.pick.setAttribute('aria-pressed', on ? 'true' : 'false');
      this.$.pick.classList.toggle('yz-btn--active', this.picking);
    }
    this.$.mapEl.classList.toggle('yz-map--picking', this.picking);
    if (this.$.pickHint) { this.$.pickHint.hidden = !this.picking; }
    this.status(this.picking ? T('pickHint') : '');
    if (this.picking) { this.$.mapEl.focus({ preventScroll: true }); }
  };

  Locator.prototype.onMapClick = function (e) {
    if (!this.picking) { return; }
    this.setPicking(false);
    var w = this.wgs(e.latlng);          // the API speaks WGS-84, whatever the basemap
    this.choosePoint(w.lat, w.lon, 'pick');
  };

  Locator.prototype.onMapKey = function (e) {
    if (!this.picking || e.target !== this.$.mapEl) { return; }
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      var w = this.wgs(this.map.getCenter());
      this.setPicking(false);
      this.choosePoint(w.lat, w.lon, 'pick');
    }
  };

  Locator.prototype.locate = function () {
    var self = this;
    if (this.picking) { this.setPicking(false); }
    if (!('geolocation' in navigator)) {
      this.showError(window.isSecureContext === false ? T('geoInsecure') : T('geoUnsupported'));
      return;
    }
    this.showError('');
    this.status(T('locating'));
    this.$.locate.disabled = true;
    navigator.geolocation.getCurrentPosition(function (pos) {
      self.$.locate.disabled = false;
      self.choosePoint(pos.coords.latitude, pos.coords.longitude, 'geo', pos.coords.accuracy);
    }, function (err) {
      self.$.locate.disabled = false;
      self.status('');
      var msg = T('geoUnavailable');
      if (err && err.code === 1) {
        msg = window.isSecureContext === false ? T('geoInsecure') : T('geoDenied');
      } else if (err && err.code === 3) {
        msg = T('geoTimeout');
      }
      self.showError(msg);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  };

  Locator.prototype.geocode = function () {
    var self = this;
    var q = (this.$.q.value || '').trim();
    if (!q) { this.showError(T('searchEmpty')); this.$.q.focus(); return; }
    this.showError('');
    this.status(T('geocoding'));
    getJSON(apiUrl(this.apiBase, '/geocode', { q: q })).then(function (r) {
      if (!r || !isFinite(r.lon) || !isFinite(r.lat)) { throw new Error(T('badData')); }
      var note = T('precisionNote')[r.precision] || T('precisionNote').unknown;
      var name = r.formatted || q;
      self.status(T('searchFound', name, note));
      self.choosePoint(r.lat, r.lon, 'search', null, { label: name, note: note });
    }).catch(function (err) {
      self.status('');
      if (err.status === 429) {
        self.showError(T('searchTooMany', err.retryAfter || 60));
      } else if (err.status === 404) {
        self.showError(T('searchNotFound') + '：' + err.message);
      } else {
        self.showError(T('searchNotFound') + '：' + err.message);
      }
    });
  };

  Locator.prototype.choosePoint = function (lat, lon, source, accuracy, extra) {
    this.point = { lat: lat, lon: lon, source: source, accuracy: accuracy,
      label: extra && extra.label, note: extra && extra.note };
    this.drawPoint();
    this.searchNearest(this.point);
  };

  Locator.prototype.drawPoint = function () {
    this.pointLayer.clearLayers();
    var pt = this.point;
    if (!pt) { return; }
    var label = pt.source === 'geo' ? T('myLocation') :
      (pt.source === 'search' ? (pt.label || T('searchedLocation')) : T('pickedLocation'));
    var at = this.disp(pt.lat, pt.lon);
    if (typeof pt.accuracy === 'number' && pt.accuracy > 30 && pt.accuracy < 5000) {
      L.circle(at, {
        radius: pt.accuracy, interactive: false, className: 'yz-accuracy',
        color: '#1565c0', weight: 1, fillOpacity: 0.08
      }).addTo(this.pointLayer);
    }
    L.circleMarker(at, {
      radius: 9, className: 'yz-point', color: '#ffffff', weight: 3,
      fillColor: '#1565c0', fillOpacity: 1
    }).bindTooltip(label, { direction: 'top', offset: [0, -8] }).addTo(this.pointLayer);
  };

  // ---- nearest by travel time

  Locator.prototype.searchNearest = function (point) {
    var self = this;
    var seq = ++this.listSeq;
    this.listMode = 'nearest';
    this.showError('');
    this.status(T('searching'));
    if (this.$.results) { this.$.results.setAttribute('aria-busy', 'true'); }
    var params = this.filterParams();
    params.lon = point.lon.toFixed(6);
    params.lat = point.lat.toFixed(6);
    params.k = this.hasList ? NEAREST_K : 5;
    params.mode = this.mode;
    getJSON(apiUrl(this.apiBase, '/nearest', params)).then(function (fc) {
      if (seq !== self.listSeq) { return; }
      var feats = (fc && Array.isArray(fc.features)) ? fc.features : [];
      self.nearest = { feats: feats, point: point, travel: fc.travel || null };
      self.renderNearest(feats, point, true);
    }).catch(function (err) {
      if (seq !== self.listSeq) { return; }
      self.status('');
      self.showError(T('nearestFailed') + '：' + err.message);
    }).then(function () {
      if (seq === self.listSeq && self.$.results) { self.$.results.removeAttribute('aria-busy'); }
    });
  };

  Locator.prototype.renderNearest = function (feats, point, fit) {
    var self = this;
    var timed = feats.length && typeof (feats[0].properties || {}).minutes === 'number';
    feats.forEach(function (f) {
      if (f && f.properties && f.geometry) { self.features[String(f.properties.id)] = f; }
    });
    if (this.hasList) {
      var list = this.$.results;
      list.textContent = '';
      this.$.resultsTitle.textContent = point.source === 'geo' ? T('resultsTitleMine') :
        (point.source === 'search' ? T('resultsTitleSearch') : T('resultsTitlePicked'));
      var note = feats.length ? (timed ? T('travelNote') : T('distanceNote')) : T('none');
      if (point.note) { note = point.note + '。' + note; }
      this.$.resultsNote.textContent = note;
      this.$.resultsBox.hidden = false;
      if (this.$.listView) { this.$.listView.hidden = false; }
      if (this.$.pager) { this.$.pager.hidden = true; }
      if (this.$.hint) { this.$.hint.hidden = true; }
      feats.forEach(function (f, i) {
        if (!f.geometry) { return; }
        var p = f.properties || {};
        var extra = typeof p.minutes === 'number' ? self.travelText(p.minutes) : null;
        list.appendChild(self.resultItem(f, i + 1, extra));
      });
      this.markCurrent(this.selectedId, false);
    }
    this.status(feats.length ? T('found', feats.length) : T('none'));
    if (!fit) { return; }
    this.map.invalidateSize({ pan: false });
    var top = feats.slice(0, 5);
    if (top.length) {
      var b5 = L.latLngBounds([this.disp(point.lat, point.lon)]);
      top.forEach(function (f) {
        var c = f.geometry && f.geometry.coordinates;
        if (Array.isArray(c)) { b5.extend(self.disp(c[1], c[0])); }
      });
      this.map.fitBounds(b5, { padding: [40, 40], maxZoom: 15 });
    } else {
      this.map.setView(this.disp(point.lat, point.lon), Math.max(this.map.getZoom(), 12));
    }
    dispatch('yizhan:results', { count: feats.length });
  };

  // ---- share link

  Locator.prototype.shareUrl = function () {
    var c = this.wgs(this.map.getCenter());
    var params = [];
    function add(k, v) { params.push(encodeURIComponent(k) + '=' + encodeURIComponent(v)); }
    if (LANG === 'en') { add('lang', 'en'); }
    add('lat', c.lat.toFixed(5));
    add('lon', c.lon.toFixed(5));
    add('zoom', String(this.map.getZoom()));
    if (this.filter.kinds.length) { add('kind', this.filter.kinds.join(',')); }
    if (this.filter.services.length) { add('service', this.filter.services.join(',')); }
    if (this.filter.openNow) { add('open_now', '1'); }
    if (this.mode !== 'walk') { add('mode', this.mode); }
    if (this.selectedId) { add('station', this.selectedId); }
    var defs = this.cfg.basemaps || [];
    if (defs.length && this.basemapId !== defs[0].id) { add('basemap', this.basemapId); }
    var base = this.cfg.locatorUrl || '/';
    return new URL(base + '?' + params.join('&'), window.location.href).href;
  };

  Locator.prototype.updateUrl = function () {
    if (this.cfg.embed || !this.ready || !window.history || !window.history.replaceState) { return; }
    try {
      window.history.replaceState(null, '', this.shareUrl());
    } catch (e) { /* a sandboxed page may refuse */ }
    if (this.$.shareUrl && this.$.shareBox && !this.$.shareBox.hidden) {
      this.$.shareUrl.value = this.shareUrl();
    }
  };

  Locator.prototype.share = function () {
    var self = this;
    var url = this.shareUrl();
    if (this.$.shareBox) {
      this.$.shareBox.hidden = false;
      this.$.shareUrl.value = url;
    }
    function manual() {
      if (self.$.shareUrl) { self.$.shareUrl.focus(); self.$.shareUrl.select(); }
      self.status(T('shareManual'));
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(function () {
        self.status(T('shareCopied'));
        self.announce(T('shareCopied'));
      }, manual);
    } else {
      manual();
    }
  };

  // ---------------------------------------------------------------- station page

  function bootStationPage() {
    var cfg = readConfig('yz-station-config');
    var mapEl = document.getElementById('yz-station-map');
    var defs = Array.isArray(cfg.basemaps) && cfg.basemaps.length ? cfg.basemaps : [];
    var d = defs[0] || { crs: 'wgs84', url: '' };
    var gcj = d.crs === 'gcj02';
    function disp(lat, lon) {
      if (gcj) { var g = CRS.wgs84ToGcj02(lon, lat); return [g[1], g[0]]; }
      return [lat, lon];
    }
    if (mapEl && typeof L !== 'undefined' && isFinite(cfg.lat) && isFinite(cfg.lon)) {
      var map = L.map(mapEl, { zoomControl: true, scrollWheelZoom: false, keyboard: true })
        .setView(disp(cfg.lat, cfg.lon), 14);
      map.attributionControl.setPrefix(false);
      if (d.url) {
        L.tileLayer(d.url, { attribution: d.attribution || '', subdomains: d.subdomains || 'abc',
          maxZoom: d.max_zoom || 18 }).addTo(map);
        if (d.overlay_url) {
          L.tileLayer(d.overlay_url, { subdomains: d.subdomains || 'abc' }).addTo(map);
        }
      } else {
        mapEl.classList.add('yz-map--no-tiles');
        if (cfg.outlinesUrl) {
          getJSON(cfg.outlinesUrl).then(function (fc) {
            L.geoJSON(fc, {
              interactive: false,
              coordsToLatLng: function (c) { return L.latLng(disp(c[1], c[0])); },
              style: function () {
                return { color: '#8a8f98', weight: 1, fillColor: '#fbfaf6', fillOpacity: 1 };
              }
            }).addTo(map).bringToBack();
          }).catch(function () { /* the marker still shows */ });
          if (cfg.outlinesAttribution) { map.attributionControl.addAttribution(cfg.outlinesAttribution); }
        }
      }
      if (cfg.demo) { map.attributionControl.addAttribution('演示数据（位置近似）'); }
      L.marker(disp(cfg.lat, cfg.lon), {
        icon: L.divIcon({ className: 'yz-marker yz-marker--selected', iconSize: [22, 22],
          iconAnchor: [11, 11] }),
        title: cfg.name || '', keyboard: false
      }).addTo(map);
    }
    var copy = document.getElementById('yz-copy');
    var field = document.getElementById('yz-share-url');
    var status = document.getElementById('yz-status');
    if (copy) {
      copy.addEventListener('click', function () {
        var url = copy.getAttribute('data-url') || window.location.href;
        function manual() {
          if (field) { field.focus(); field.select(); }
          if (status) { status.textContent = '请复制上面的链接。'; }
        }
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(url).then(function () {
            if (status) { status.textContent = '链接已复制。'; }
          }, manual);
        } else {
          manual();
        }
      });
    }
  }

  // ---------------------------------------------------------------- boot

  function boot() {
    window.YizhanLocator = {
      formatDistance: formatDistance,
      formatMinutes: formatMinutes,
      crs: CRS
    };
    if (document.getElementById('yz-station-config')) {
      bootStationPage();
      return;
    }
    var cfg = readConfig();
    LANG = cfg.lang === 'en' ? 'en' : 'zh';
    if (typeof L === 'undefined' || !L.markerClusterGroup) {
      var box = document.getElementById('yz-error');
      if (box) { box.textContent = T('mapFailed'); box.hidden = false; }
      return;
    }
    var app = new Locator(cfg);
    window.YizhanLocator.app = app;
    app.init();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', boot);
  } else {
    boot();
  }
}());
