/*
 * Yizhan locator: formatting a station's facts for people (distance, minutes, kind and service
 * labels, address, phone and Amap links). Pure functions of their arguments and the page
 * language; no DOM. Needs i18n.js and common.js; exposes window.Yizhan.locator.format.
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var isBlank = Y.common.isBlank;

  function isEn() { return Y.i18n.lang() === 'en'; }

  /** Format a distance in metres: "850 米", "3.2 公里", "125 公里" (or m / km in English). */
  function formatDistance(m) {
    if (typeof m !== 'number' || !isFinite(m)) { return ''; }
    var rounded = Math.round(m);
    if (rounded < 1000) { return t('meters', { n: rounded }); }
    var km = m / 1000;
    return t('kilometers', { n: km < 100 ? km.toFixed(1) : String(Math.round(km)) });
  }

  /** Travel minutes: "不到 1 分钟", "约 25 分钟", "约 2 小时 5 分钟" (or the English). */
  function formatMinutes(m) {
    if (typeof m !== 'number' || !isFinite(m)) { return ''; }
    if (m < 1) { return t('minutesUnder1'); }
    if (m < 60) { return t('minutesAbout', { m: Math.round(m) }); }
    var h = Math.floor(m / 60);
    var r = Math.round(m - h * 60);
    return r ? t('hoursMinutesAbout', { h: h, m: r }) : t('hoursAbout', { h: h });
  }

  /** A station's kind in the page language: the taxonomy's label, else the API's. */
  function kindLabel(p, kinds) {
    var k = kinds && kinds[p.kind];
    if (k) { return isEn() ? (k.en || k.zh) : (k.zh || k.en); }
    return isEn() ? (p.kind_label_en || p.kind_label || p.kind || '') :
      (p.kind_label || p.kind || '');
  }

  /** A station's service labels in the page language. */
  function serviceLabels(p, services) {
    var codes = Array.isArray(p.services) ? p.services : [];
    return codes.map(function (c, i) {
      var s = services && services[c];
      if (s) { return isEn() ? (s.en || s.zh) : (s.zh || s.en); }
      return (Array.isArray(p.service_labels) && p.service_labels[i]) || c;
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

  /** A station's name, or the "unnamed" text. */
  function stationName(p) {
    return isBlank(p.name) ? t('unnamed') : String(p.name);
  }

  Y.locator = Y.locator || {};
  Y.locator.format = {
    formatDistance: formatDistance,
    formatMinutes: formatMinutes,
    kindLabel: kindLabel,
    serviceLabels: serviceLabels,
    stationAddress: stationAddress,
    stationName: stationName,
    telHref: telHref,
    amapHref: amapHref
  };
}(window.Yizhan = window.Yizhan || {}));
